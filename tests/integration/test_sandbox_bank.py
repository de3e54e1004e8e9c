"""The bank sandbox over real HTTP: incoming transfers notified by signed webhooks, and a Zengin
入出金取引明細 statement that the product's strict parser (services.integrations.zengin) reads back:
200-byte cp932 records, header / data / trailer / end, counts and totals in the trailer matching the
data records."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from services.integrations.zengin import ZenginFormatError, parse_statement

pytestmark = pytest.mark.integration

PROVIDERS = ["bank"]  # started by the conftest sandbox fixture
SECRET = "bank-test-secret"
JST = timezone(timedelta(hours=9))


def wareki(day) -> int:
    return int(f"{day.year - 2018:02d}{day.month:02d}{day.day:02d}")


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


def test_a_statement_whose_trailer_disagrees_with_its_records_is_refused(bank):
    bank.post("/_sandbox/transfers", json={"amount": 3300, "payer_name": "ヤマダ タロウ"})
    content = bank.get("/statements").content
    trailer_at = len(content) - 400
    tampered = content[:trailer_at + 1] + b"000002" + content[trailer_at + 7:]  # 入金件数 1 -> 2

    with pytest.raises(ZenginFormatError, match="deposit count"):
        parse_statement(tampered)
    with pytest.raises(ZenginFormatError, match="200-byte"):
        parse_statement(content[:-1])
