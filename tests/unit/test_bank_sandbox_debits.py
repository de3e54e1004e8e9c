"""The bank sandbox takes 口座振替 files: the product's writer and client against the sandbox's own reader,
in process (Starlette's TestClient behind the product's BankClient)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.testclient import TestClient

from sandbox.bank import BankSandbox
from services.integrations.bank import BankClient, BankUnreachable
from services.integrations.direct_debit_file import DebitHeader, DebitItem, read_result, write_request
from services.platform.business_days import next_bank_business_day
from services.platform.clock import today_in_tokyo

WITHDRAWAL = next_bank_business_day(today_in_tokyo() + timedelta(days=14))  # the sandbox reads MMDD near today
HEADER = DebitHeader(consignor_code="1234567890", consignor_name="ｶ)ﾃﾞﾓﾂｳｼﾝ", withdrawal_date=WITHDRAWAL,
                     bank_code="9900", bank_name="ｻﾝﾄﾞﾎﾞﾂｸｽｷﾞﾝｺｳ", branch_code="001", branch_name="ﾎﾝﾃﾝ",
                     account_type=1, account_number="1234567")


def item(account_number: str, amount: int, customer_number: str) -> DebitItem:
    return DebitItem(bank_code="0005", bank_name="", branch_code="123", branch_name="", account_type=1,
                     account_number=account_number, holder_name="ﾔﾏﾀﾞ ﾀﾛｳ", amount=amount, new_code=0,
                     customer_number=customer_number)


REQUEST = write_request(HEADER, [item("7000001", 5500, "101"), item("7000002", 3300, "102"),
                                 item("7000003", 1100, "103")])


@pytest.fixture()
def bank() -> TestClient:
    """The bank sandbox app in process."""
    with TestClient(BankSandbox().app()) as client:
        yield client


@pytest.fixture()
def client(bank: TestClient) -> BankClient:
    """The product's bank client, its requests answered by the in-process sandbox."""
    def forward(request: httpx.Request) -> httpx.Response:
        answer = bank.request(request.method, request.url.raw_path.decode(), content=request.content,
                              headers={"content-type": request.headers.get("content-type", "")})
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return BankClient("http://bank.test", transport=httpx.MockTransport(forward))


def test_a_posted_request_is_accepted_once_and_the_same_file_again_is_the_same_batch(bank, client):
    first = client.submit_debit_file(REQUEST)
    again = bank.post("/debits", content=REQUEST, headers={"content-type": "application/octet-stream"})

    assert first["id"].startswith("dd_") and (first["count"], first["amount"]) == (3, 9900)
    assert first["withdrawal_date"] == WITHDRAWAL.isoformat()
    assert (again.status_code, again.json()) == (200, first)
    assert bank.get("/_sandbox/log", params={"operation": "debit.submitted"}).json()["count"] == 1


def test_the_result_answers_funds_short_for_a_configured_account_and_transfers_the_rest(bank, client):
    debit_id = client.submit_debit_file(REQUEST)["id"]
    assert bank.post("/_sandbox/debit-results", json={"account_number": "7000002", "code": 1}).status_code == 200

    content = client.debit_result(debit_id)
    result = read_result(content, today=WITHDRAWAL)

    assert [(i.account_number, i.result_code) for i in result.items] == [("7000001", 0), ("7000002", 1),
                                                                         ("7000003", 0)]
    assert (result.transferred_count, result.transferred_amount, result.failed_count, result.failed_amount) == (
        2, 6600, 1, 3300)
    assert content.count(b"\r\n") == 6 and all(len(line) == 120 for line in content.split(b"\r\n")[:-1])


def test_a_customer_number_setting_wins_and_clearing_returns_every_debit_to_transferred(bank, client):
    debit_id = client.submit_debit_file(REQUEST)["id"]
    bank.post("/_sandbox/debit-results", json={"account_number": "7000003", "code": 2})
    bank.post("/_sandbox/debit-results", json={"customer_number": "00103", "code": 3})

    codes = [i.result_code for i in read_result(client.debit_result(debit_id), today=WITHDRAWAL).items]
    assert bank.delete("/_sandbox/debit-results").json() == {"debit_results": []}
    cleared = [i.result_code for i in read_result(client.debit_result(debit_id), today=WITHDRAWAL).items]

    assert (codes, cleared) == ([0, 0, 3], [0, 0, 0])


@pytest.mark.parametrize(("body", "message"), [
    ({"account_number": "123", "code": 1}, "7 digits"),
    ({"account_number": "7000001", "code": 5}, "code must be one of"),
    ({"account_number": "7000001", "customer_number": "1", "code": 1}, "account_number or customer_number"),
])
def test_a_debit_result_setting_that_is_not_a_bank_answer_is_refused(bank, body, message):
    answer = bank.post("/_sandbox/debit-results", json=body)

    assert answer.status_code == 400 and message in answer.json()["message"]


def test_a_bad_file_is_refused_naming_the_byte_and_the_client_raises(bank, client):
    tampered = REQUEST[:244] + b"\x82" + REQUEST[245:]

    answer = bank.post("/debits", content=tampered, headers={"content-type": "application/octet-stream"})
    with pytest.raises(BankUnreachable, match="HTTP 400.*byte 245"):
        client.submit_debit_file(tampered)

    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_debit_file")
    assert answer.json()["message"] == "byte 245: 0x82 is not a Zengin character"


def test_a_file_whose_trailer_disagrees_or_not_sent_as_octets_is_refused(bank):
    trailer = 120 * 4
    wrong_total = REQUEST[:trailer + 1] + b"000004" + REQUEST[trailer + 7:]

    refused = bank.post("/debits", content=wrong_total, headers={"content-type": "application/octet-stream"})
    as_json = bank.post("/debits", content=REQUEST, headers={"content-type": "application/json"})

    assert refused.status_code == 400 and "trailer" in refused.json()["message"]
    assert as_json.status_code == 415


def test_an_unknown_batch_has_no_result(client):
    with pytest.raises(BankUnreachable, match="HTTP 404"):
        client.debit_result("dd_unknown")
