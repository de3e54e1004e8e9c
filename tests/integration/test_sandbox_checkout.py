"""The payment sandbox's hosted checkout (決済ページ) over real HTTP: a session opened once per key, the card page a
phone shows, a declined test card, paying once (a second tap only returns), the signed checkout.completed
webhook, the paid session in the settlement report, and a closed session that takes nothing."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io

import httpx
import pytest

pytestmark = pytest.mark.integration

PROVIDERS = ["payment"]  # started by the conftest sandbox fixture
SECRET = "checkout-test-secret"
BACK = {"success_url": "http://app.test/my/bills/7?card=done", "cancel_url": "http://app.test/my/bills/7?card=back"}


@pytest.fixture()
def gateway(sandbox, receiver):
    sandbox.reset("payment")
    sandbox.configure("payment", webhook_delay_ms=0)
    receiver.clear()
    with httpx.Client(base_url=sandbox.url("payment"), timeout=5, follow_redirects=False) as client:
        yield client


def open_session(client: httpx.Client, key: str, amount: int = 11000) -> httpx.Response:
    return client.post("/checkout/sessions", headers={"Idempotency-Key": key},
                       json={"amount": amount, "description": "INV-202602-000001 のお支払い",
                             "client_reference_id": "chk1", **BACK})


def test_a_session_is_paid_once_on_its_page_and_the_gateway_says_so_signed(gateway, sandbox, receiver):
    first, again = open_session(gateway, "payment-checkout-chk1-a"), open_session(gateway, "payment-checkout-chk1-a")
    session = first.json()
    assert first.status_code == 201 and again.json() == session and again.headers["idempotent-replayed"] == "true"
    assert session["url"] == f"{sandbox.url('payment')}/checkout/pay/{session['id']}"
    page = gateway.get(f"/checkout/pay/{session['id']}")
    assert page.status_code == 200 and 'name="viewport"' in page.text and '<label for="card_number">' in page.text
    assert "¥11,000" in page.text

    declined = gateway.post(f"/checkout/pay/{session['id']}", data={"card_number": "4000 0000 0000 0002"})
    paid = gateway.post(f"/checkout/pay/{session['id']}", data={"card_number": "4242 4242 4242 4242"})
    second_tap = gateway.post(f"/checkout/pay/{session['id']}", data={"card_number": "4242 4242 4242 4242"})

    assert declined.status_code == 402 and "承認されませんでした" in declined.text
    assert (paid.status_code, paid.headers["location"]) == (303, BACK["success_url"])
    assert (second_tap.status_code, second_tap.headers["location"]) == (303, BACK["success_url"])
    [hook] = receiver.wait_for(1, "/hooks/payment")
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, hook.headers["x-sandbox-signature"])
    event = hook.json()
    assert (event["type"], event["subject"], event["data"]["amount"]) == ("checkout.completed", session["id"], 11000)
    assert event["data"]["client_reference_id"] == "chk1" and event["data"]["charge_id"].startswith("ch_")
    assert [e["operation"] for e in sandbox.effects("payment")] == ["checkout.open", "checkout.declined",
                                                                    "checkout.paid"]
    rows = list(csv.DictReader(io.StringIO(gateway.get("/reports/settlement").text)))
    assert [(r["type"], r["idempotency_key"], r["amount"]) for r in rows] == [
        ("checkout", "payment-checkout-chk1-a", "11000")]
    assert gateway.get("/checkout/sessions", params={"idempotency_key": "payment-checkout-chk1-a"}).json()[
        "data"][0]["status"] == "complete"


def test_a_closed_session_takes_nothing_and_bad_requests_open_nothing(gateway, sandbox):
    session = open_session(gateway, "payment-checkout-chk2-a", amount=7000).json()
    closed = gateway.post(f"/checkout/sessions/{session['id']}/expire", headers={"Idempotency-Key": "close-1"})

    assert closed.status_code == 200 and closed.json()["status"] == "expired"
    page = gateway.post(f"/checkout/pay/{session['id']}", data={"card_number": "4242 4242 4242 4242"})
    assert page.status_code == 410 and "有効期限" in page.text
    assert gateway.get("/checkout/pay/cs_nothing").status_code == 404
    assert open_session(gateway, "bad-1", amount=0).status_code == 400
    no_return = gateway.post("/checkout/sessions", headers={"Idempotency-Key": "bad-2"},
                             json={"amount": 100, "success_url": "javascript:alert(1)", "cancel_url": "/x"})
    assert no_return.status_code == 400
    assert [e["operation"] for e in sandbox.effects("payment")] == ["checkout.open", "checkout.expire"]
