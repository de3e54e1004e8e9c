"""The bank sandbox over real HTTP: incoming transfers notified by signed webhooks, and a Zengin
入出金取引明細 statement that a strict parser (below) reads back: 200-byte cp932 records, header /
data / trailer / end, counts and totals in the trailer matching the data records."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from sandbox.testing import SandboxProcess, WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "bank-test-secret"
JST = timezone(timedelta(hours=9))
RECORD = 200

# (name, width, numeric) per record type of 入出金取引明細 (普通預金).
HEADER = [("kind", 1, True), ("type_code", 2, True), ("code_kind", 1, True), ("created", 6, True),
          ("from", 6, True), ("to", 6, True), ("bank_code", 4, True), ("bank_name", 15, False),
          ("branch_code", 3, True), ("branch_name", 15, False), ("dummy1", 3, True), ("deposit_type", 1, True),
          ("account_number", 10, True), ("account_name", 40, False), ("overdraft", 1, True),
          ("passbook", 1, True), ("opening_balance", 14, True), ("dummy2", 71, False)]
DATA = [("kind", 1, True), ("inquiry_number", 8, True), ("booked", 6, True), ("value_date", 6, True),
        ("in_out", 1, True), ("tx_kind", 2, True), ("amount", 12, True), ("other_bank_bills", 12, True),
        ("exchange_date", 6, True), ("dishonor_date", 6, True), ("bill_kind", 1, True), ("bill_number", 7, True),
        ("branch", 3, True), ("payer_code", 10, True), ("payer_name", 48, False), ("remitting_bank", 15, False),
        ("remitting_branch", 15, False), ("summary", 20, False), ("edi", 20, False), ("dummy", 1, False)]
TRAILER = [("kind", 1, True), ("in_count", 6, True), ("in_total", 13, True), ("out_count", 6, True),
           ("out_total", 13, True), ("overdraft", 1, True), ("closing_balance", 14, True),
           ("data_count", 7, True), ("dummy", 139, False)]
END = [("kind", 1, True), ("dummy", 199, False)]
LAYOUTS = {"1": HEADER, "2": DATA, "8": TRAILER, "9": END}


def parse_record(raw: bytes) -> dict:
    """Split one 200-byte record by its layout; numeric fields must be digits, text must be cp932."""
    layout = LAYOUTS[chr(raw[0])]
    assert sum(width for _, width, _ in layout) == RECORD
    fields, pos = {}, 0
    for name, width, numeric in layout:
        chunk = raw[pos:pos + width]
        pos += width
        if numeric:
            assert chunk.isdigit(), f"{name} is not numeric: {chunk!r}"
            fields[name] = int(chunk)
        else:
            fields[name] = chunk.decode("cp932").rstrip(" ")
    return fields


def parse_statement(content: bytes) -> dict:
    """Parse a whole 入出金取引明細 file and check its structure and totals."""
    assert len(content) % RECORD == 0, f"{len(content)} bytes is not a whole number of 200-byte records"
    records = [parse_record(content[i:i + RECORD]) for i in range(0, len(content), RECORD)]
    kinds = "".join(str(r["kind"]) for r in records)
    assert kinds[0] == "1" and kinds[-2:] == "89" and set(kinds[1:-2]) <= {"2"}, kinds
    header, data, trailer = records[0], records[1:-2], records[-2]
    assert header["type_code"] == 3 and header["code_kind"] == 0
    deposits = [d for d in data if d["in_out"] == 1]
    withdrawals = [d for d in data if d["in_out"] == 2]
    assert trailer["data_count"] == len(data)
    assert (trailer["in_count"], trailer["in_total"]) == (len(deposits), sum(d["amount"] for d in deposits))
    assert (trailer["out_count"], trailer["out_total"]) == (len(withdrawals), sum(d["amount"] for d in withdrawals))
    assert trailer["closing_balance"] == (header["opening_balance"] + trailer["in_total"] - trailer["out_total"])
    return {"header": header, "data": data, "trailer": trailer}


def wareki(day) -> int:
    return int(f"{day.year - 2018:02d}{day.month:02d}{day.day:02d}")


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def sandbox(receiver):
    with SandboxProcess(only=["bank"], webhook_base=receiver.url("/hooks"),
                        env={"SANDBOX_WEBHOOK_SECRET": SECRET}) as s:
        yield s


@pytest.fixture()
def bank(sandbox, receiver):
    sandbox.reset("bank")
    receiver.clear()
    with httpx.Client(base_url=sandbox.url("bank"), timeout=5) as client:
        yield client


def test_incoming_transfers_are_notified_by_signed_webhooks(bank, receiver):
    created = bank.post("/_sandbox/transfers", json={"transfers": [
        {"amount": 3300, "payer_name": "ヤマダ タロウ", "edi": "INV-0001"},
        {"amount": 5500, "payer_name": "かぶしきがいしゃ　さんぷる", "payer_code": "1234567890"},
    ]})

    assert created.status_code == 201
    names = [t["payer_name"] for t in created.json()["transfers"]]
    assert names == ["ﾔﾏﾀﾞ ﾀﾛｳ", "ｶﾌﾞｼｷｶﾞｲｼﾔ ｻﾝﾌﾟﾙ"]  # half-width, small kana made large
    hooks = receiver.wait_for(2, "/hooks/bank")
    for hook in hooks:
        expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, hook.headers["x-sandbox-signature"])
    events = sorted((hook.json() for hook in hooks), key=lambda e: e["sequence"])
    assert [(e["type"], e["data"]["amount"], e["data"]["payer_name"]) for e in events] == [
        ("transfer.received", 3300, "ﾔﾏﾀﾞ ﾀﾛｳ"), ("transfer.received", 5500, "ｶﾌﾞｼｷｶﾞｲｼﾔ ｻﾝﾌﾟﾙ")]


def test_statement_file_is_a_well_formed_zengin_nyushukkin_meisai(bank):
    today = datetime.now(JST).date()
    yesterday = today - timedelta(days=1)
    bank.post("/_sandbox/transfers", json={"transfers": [
        {"amount": 100000, "payer_name": "ｾﾞﾝｼﾞﾂ ﾌﾘｺﾐ", "date": yesterday.isoformat()},
        {"amount": 3300, "payer_name": "ヤマダ タロウ", "edi": "INV-0001", "remitting_bank": "ミライギンコウ"},
        {"amount": 12100, "payer_name": "ｶ)ﾃｽﾄｼｮｳｼﾞ", "payer_code": "42"},
        {"amount": 880, "direction": "out", "summary": "テスウリヨウ"},
    ]})

    answer = bank.get("/statements", params={"date": today.isoformat()})
    parsed = parse_statement(answer.content)
    whole = parse_statement(bank.get("/statements", params={"from": yesterday.isoformat(),
                                                            "to": today.isoformat()}).content)

    assert answer.headers["content-type"].startswith("text/plain") and b"\r" not in answer.content
    header, data, trailer = parsed["header"], parsed["data"], parsed["trailer"]
    assert header["from"] == header["to"] == wareki(today)
    assert header["opening_balance"] == 1_000_000 + 100000  # yesterday's transfer is before the period
    assert [(d["in_out"], d["amount"], d["payer_name"]) for d in data] == [
        (1, 3300, "ﾔﾏﾀﾞ ﾀﾛｳ"), (1, 12100, "ｶ)ﾃｽﾄｼﾖｳｼﾞ"), (2, 880, "")]
    assert data[0]["edi"] == "INV-0001" and data[0]["remitting_bank"] == "ﾐﾗｲｷﾞﾝｺｳ"
    assert data[1]["payer_code"] == 42 and data[0]["booked"] == wareki(today)
    assert (trailer["in_count"], trailer["in_total"], trailer["out_count"], trailer["out_total"]) == (2, 15400, 1, 880)
    assert trailer["closing_balance"] == 1_100_000 + 15400 - 880
    assert whole["header"]["opening_balance"] == 1_000_000 and whole["trailer"]["data_count"] == 4


def test_an_empty_day_still_gives_header_trailer_and_end(bank):
    parsed = parse_statement(bank.get("/statements", params={"date": "2024-04-01"}).content)
    assert parsed["data"] == [] and parsed["trailer"]["in_count"] == 0


def test_names_the_zengin_character_set_cannot_carry_are_refused(bank, sandbox):
    refused = bank.post("/_sandbox/transfers", json={"amount": 1000, "payer_name": "山田太郎"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_characters"
    assert bank.get("/transfers").json()["transfers"] == []
