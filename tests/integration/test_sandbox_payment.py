"""The payment gateway sandbox over real HTTP: idempotent charges and refunds, status queries, signed
webhook events and the daily settlement report."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import datetime, timedelta, timezone

import httpx
import pytest

pytestmark = pytest.mark.integration

PROVIDERS = ["payment"]  # started by the conftest sandbox fixture
SECRET = "payment-test-secret"
JST = timezone(timedelta(hours=9))


@pytest.fixture()
def gateway(sandbox, receiver):
    sandbox.reset("payment")
    sandbox.configure("payment", webhook_delay_ms=0)
    receiver.clear()
    with httpx.Client(base_url=sandbox.url("payment"), timeout=5) as client:
        yield client


def post(client: httpx.Client, path: str, key: str, **body) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def test_second_charge_with_the_same_key_charges_once(gateway, sandbox):
    first = post(gateway, "/charges", "inv-2024-001", amount=3300, customer_ref="C-100", description="11月分")
    again = post(gateway, "/charges", "inv-2024-001", amount=3300, customer_ref="C-100", description="11月分")
    other_amount = post(gateway, "/charges", "inv-2024-001", amount=9999, customer_ref="C-100")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert other_amount.status_code == 422
    charge = first.json()
    assert (charge["status"], charge["amount"], charge["currency"]) == ("succeeded", 3300, "JPY")
    assert gateway.get(f"/charges/{charge['id']}").json()["status"] == "succeeded"
    assert [c["id"] for c in gateway.get("/charges", params={"idempotency_key": "inv-2024-001"}).json()["data"]] \
        == [charge["id"]]
    assert [(e["operation"], e["idempotency_key"]) for e in sandbox.effects("payment")] == [
        ("charge", "inv-2024-001")]


def test_invalid_charges_are_refused_without_effect(gateway, sandbox):
    assert post(gateway, "/charges", "bad-1", amount=0, customer_ref="C-1").status_code == 400
    assert post(gateway, "/charges", "bad-2", amount=1.5, customer_ref="C-1").status_code == 400
    assert post(gateway, "/charges", "bad-3", amount=100, customer_ref="C-1", currency="USD").status_code == 400
    assert gateway.post("/charges", json={"amount": 100, "customer_ref": "C-1"}).status_code == 400
    assert sandbox.effects("payment") == []


def test_declined_charge_is_an_answer_and_a_charge_failed_event(gateway, receiver):
    declined = post(gateway, "/charges", "decl-1", amount=5500, customer_ref="C-200",
                    payment_method="pm_card_declined")

    assert declined.status_code == 402
    assert (declined.json()["status"], declined.json()["failure_code"]) == ("failed", "card_declined")
    event = receiver.wait_for(1, "/hooks/payment")[0]
    assert event.json()["type"] == "charge.failed" and event.json()["data"]["id"] == declined.json()["id"]


def test_refunds_are_idempotent_and_never_exceed_the_charge(gateway, sandbox):
    charge = post(gateway, "/charges", "ch-r", amount=10000, customer_ref="C-300").json()
    part = post(gateway, f"/charges/{charge['id']}/refunds", "ref-1", amount=4000, reason="日割り返金")
    again = post(gateway, f"/charges/{charge['id']}/refunds", "ref-1", amount=4000, reason="日割り返金")
    too_much = post(gateway, f"/charges/{charge['id']}/refunds", "ref-2", amount=7000)
    rest = post(gateway, f"/charges/{charge['id']}/refunds", "ref-3")

    assert part.status_code == again.status_code == 201 and again.json() == part.json()
    assert too_much.status_code == 409 and too_much.json()["refundable"] == 6000
    assert rest.status_code == 201 and rest.json()["amount"] == 6000
    assert gateway.get(f"/charges/{charge['id']}").json()["amount_refunded"] == 10000
    assert gateway.get(f"/refunds/{part.json()['id']}").json()["amount"] == 4000
    assert [(e["operation"], e["amount"]) for e in sandbox.effects("payment")] == [
        ("charge", 10000), ("refund", 4000), ("refund", 6000)]


def test_webhook_events_are_signed(gateway, receiver):
    charge = post(gateway, "/charges", "ch-w", amount=2200, customer_ref="C-400").json()
    post(gateway, f"/charges/{charge['id']}/refunds", "ref-w", amount=200)

    hooks = receiver.wait_for(2, "/hooks/payment")

    types = sorted(hook.json()["type"] for hook in hooks)
    assert types == ["charge.succeeded", "refund.succeeded"]
    for hook in hooks:
        expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, hook.headers["x-sandbox-signature"])
        assert hook.json()["subject"] == charge["id"]
    assert sorted(hook.json()["sequence"] for hook in hooks) == [1, 2]


def test_settlement_report_lists_the_days_charges_and_refunds_with_fees(gateway):
    today = datetime.now(JST).date().isoformat()
    ok = post(gateway, "/charges", "s-1", amount=10000, customer_ref="C-500").json()
    post(gateway, "/charges", "s-2", amount=3300, customer_ref="C-501")
    post(gateway, "/charges", "s-3", amount=4400, customer_ref="C-502", payment_method="pm_card_declined")
    post(gateway, f"/charges/{ok['id']}/refunds", "s-4", amount=1000)

    report = gateway.get("/reports/settlement", params={"date": today})
    rows = list(csv.DictReader(io.StringIO(report.text)))

    assert report.headers["content-type"].startswith("text/csv")
    assert [(r["type"], r["idempotency_key"], int(r["amount"]), int(r["fee"]), int(r["net"])) for r in rows] == [
        ("charge", "s-1", 10000, 360, 9640), ("charge", "s-2", 3300, 118, 3182), ("refund", "s-4", -1000, 0, -1000)]
    assert all(r["date"] == today for r in rows)
    assert list(csv.DictReader(io.StringIO(gateway.get("/reports/settlement",
                                                         params={"date": "2020-01-01"}).text))) == []
