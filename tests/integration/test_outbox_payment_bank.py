"""Card charges and bank transfers end to end against the real payment and bank sandboxes.

The test plays the worker (services.tasks.outbox.run_operation, no Celery) and the app's webhook
route (services.workflow.webhooks.accept then process_event, fed with what the sandbox delivered to a
WebhookReceiver), over a fresh ledger per test.
"""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select

from sandbox.testing import SandboxProcess, WebhookReceiver
from services.billing import bank_transfers, card_payments, payment_settlement
from services.integrations.bank import BankClient
from services.integrations.payment import PaymentClient
from services.models import ExternalAttempt, ExternalOperation, Payment, PaymentAllocation, ReviewItem
from services.platform import clock, installation_secrets
from services.platform.db import read_session
from services.tasks import outbox
from services.workflow import daily_reconciliation, webhooks
from services.workflow import outbox as ledger_outbox
from tests.unit.builders import World

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def sandbox(receiver):
    with SandboxProcess(only=["payment", "bank"], webhook_base=receiver.url("/hooks"),
                        secrets_file=installation_secrets.secrets_file()) as s:
        yield s


@pytest.fixture()
def system(sandbox, receiver, engine, admin, monkeypatch):
    """Fresh providers, a fresh ledger, webhooks queued in memory instead of Celery."""
    sandbox.reset("payment", "bank")
    sandbox.configure("payment", webhook_delay_ms=0)
    receiver.clear()
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", queued.append)
    return System(sandbox, receiver, World(admin), queued)


class System:
    """The sandboxes, the received webhooks and what a test asks of them."""

    def __init__(self, sandbox: SandboxProcess, receiver: WebhookReceiver, world: World, queued: list[int]):
        self.sandbox, self.receiver, self.world, self.queued = sandbox, receiver, world, queued

    def gateway(self) -> PaymentClient:
        return PaymentClient(self.sandbox.url("payment"), read_timeout=1)

    def bank(self) -> BankClient:
        return BankClient(self.sandbox.url("bank"))

    def deliver_webhooks(self, provider: str, count: int) -> list[str]:
        """Hand the sandbox's deliveries to the app's webhook route, then process what was stored."""
        for hook in self.receiver.wait_for(count, f"/hooks/{provider}"):
            status, _ = webhooks.accept(provider, hook.body, hook.headers.get("x-sandbox-signature"))
            assert status == 200
        self.receiver.clear()
        results = [webhooks.process_event(row_id) for row_id in self.queued]
        self.queued.clear()
        return results


def _charge(invoice_id: int) -> ExternalOperation:
    with read_session() as s:
        return s.exec(select(ExternalOperation).where(ExternalOperation.invoice_id == invoice_id,
                                                      ExternalOperation.operation == "charge")
                      .order_by(ExternalOperation.id.desc())).first()


def _invoice_payments(invoice_id: int) -> list[Payment]:
    with read_session() as s:
        return list(s.exec(select(Payment).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
                           .where(PaymentAllocation.invoice_id == invoice_id)).all())


def _open_items(prefix: str) -> list[ReviewItem]:
    with read_session() as s:
        return list(s.exec(select(ReviewItem).where(ReviewItem.kind.startswith(prefix), ReviewItem.status == "open")
                           .order_by(ReviewItem.id)).all())


def test_a_charge_whose_answers_time_out_after_the_gateway_committed_charges_the_card_once(system, admin):
    invoice = system.world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=admin)
    system.sandbox.faults("payment", timeout_after_commit_rate=1.0, stall_seconds=3)

    assert outbox.run_operation(op.id, client=system.gateway()) == "retry"
    assert outbox.run_operation(op.id, client=system.gateway()) == "retry"
    system.sandbox.faults("payment", timeout_after_commit_rate=0)
    assert outbox.run_operation(op.id, client=system.gateway()) == "succeeded"
    results = system.deliver_webhooks("payment", 1)  # the gateway's charge.succeeded, after the fact

    with read_session() as s:
        tries = s.exec(select(ExternalAttempt).where(ExternalAttempt.external_operation_id == op.id)
                       .order_by(ExternalAttempt.attempt_no)).all()
    assert [t.outcome for t in tries] == ["unknown", "unknown", "succeeded"]
    assert {json.loads(t.request_json)["idempotency_key"] for t in tries} == {op.idempotency_key}
    charges = system.sandbox.effects("payment", operation="charge")
    assert [c["idempotency_key"] for c in charges] == [op.idempotency_key]
    [payment] = _invoice_payments(invoice.id)
    assert (payment.method, payment.amount, payment.external_ref) == ("card", 11000, charges[0]["charge_id"])
    assert results == [f"operation #{op.id} already succeeded"]
    with read_session() as s:
        assert len(s.exec(select(Payment)).all()) == 1


def test_a_declined_card_fails_the_charge_and_opens_a_review_item(system, admin):
    invoice = system.world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=admin, payment_method="pm_card_declined")

    assert outbox.run_operation(op.id, client=system.gateway()) == "failed"
    system.deliver_webhooks("payment", 1)  # charge.failed changes nothing more

    assert _charge(invoice.id).status == "failed" and _invoice_payments(invoice.id) == []
    [item] = _open_items("payment.")
    assert item.kind == "payment.charge.failed" and "card_declined" in item.reason
    assert card_payments.charge_invoice(invoice.id, actor=admin).id != op.id  # another card may be tried


def test_a_refund_of_a_card_payment_reaches_the_gateway_once(system, admin):
    invoice = system.world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=admin)
    outbox.run_operation(op.id, client=system.gateway())
    [payment] = _invoice_payments(invoice.id)

    system.world.approve("payment.refund", {"payment_id": payment.id}, reason="解約に伴う返金")
    with read_session() as s:
        refund = s.exec(select(ExternalOperation).where(ExternalOperation.operation == "refund")).one()
    assert outbox.run_operation(refund.id, client=system.gateway()) == "succeeded"
    results = system.deliver_webhooks("payment", 2)  # charge.succeeded and refund.succeeded

    refunds = system.sandbox.effects("payment", operation="refund")
    assert [(r["charge_id"], r["amount"]) for r in refunds] == [(payment.external_ref, 11000)]
    assert sorted(results) == sorted([f"operation #{op.id} already succeeded",
                                      f"operation #{refund.id} already succeeded"])
    assert system.gateway().lookup(refund.idempotency_key) == "applied"


def test_the_settlement_report_diff_finds_the_planted_discrepancies(system, admin, monkeypatch):
    today = clock.today_in_tokyo()
    paid = system.world.invoice()
    outbox.run_operation(card_payments.charge_invoice(paid.id, actor=admin).id, client=system.gateway())
    # planted: a charge made at the gateway behind the ledger's back ...
    planted = httpx.post(system.sandbox.url("payment") + "/charges", headers={"Idempotency-Key": "manual-001"},
                         json={"amount": 4400, "customer_ref": "K-999999"}, timeout=5)
    assert planted.status_code == 201
    # ... and a success the ledger believes in although the gateway never saw it
    phantom = card_payments.charge_invoice(system.world.invoice().id, actor=admin)
    ledger_outbox.settle(phantom.id, "succeeded", detail="手入力の誤り", evidence={"data": {"id": "ch_phantom"}})
    monkeypatch.setattr(payment_settlement, "client_for", lambda provider: system.gateway())

    run = daily_reconciliation.run("payment_settlement", today)
    again = daily_reconciliation.run("payment_settlement", today, force=True)

    assert (run.status, run.rows_checked, run.differences) == ("completed", 2, 2)
    assert again.differences == 0
    items = {i.kind: i for i in _open_items("payment.settlement.")}
    assert set(items) == {"payment.settlement.missing_in_ledger", "payment.settlement.missing_in_report"}
    assert json.loads(items["payment.settlement.missing_in_ledger"].evidence_json)["report"]["id"] == \
        planted.json()["id"]
    assert items["payment.settlement.missing_in_report"].external_operation_id == phantom.id
    assert items["payment.settlement.missing_in_report"].subject_key == f"{today.isoformat()}:{phantom.idempotency_key}"


def test_a_bank_transfer_delivered_twice_is_recorded_once_and_allocated_to_its_invoice(system):
    invoice = system.world.invoice(unit_price=3000)  # 3,300 yen with tax
    system.sandbox.faults("bank", duplicate_webhooks=True)
    created = httpx.post(system.sandbox.url("bank") + "/_sandbox/transfers", timeout=5,
                         json={"amount": 3300, "payer_name": "ヤマダ タロウ", "edi": invoice.invoice_no})
    assert created.status_code == 201

    results = system.deliver_webhooks("bank", 2)

    [payment] = _invoice_payments(invoice.id)
    assert (payment.method, payment.status, payment.payer_name, payment.external_ref) == (
        "bank_transfer", "matched", "ﾔﾏﾀﾞ ﾀﾛｳ", created.json()["transfers"][0]["id"])
    assert results == [f"payment #{payment.id} recorded and allocated to {invoice.invoice_no}"]
    with read_session() as s:
        assert len(s.exec(select(Payment)).all()) == 1


def test_the_statement_diff_compares_the_zengin_file_with_the_ledger(system):
    today = clock.today_in_tokyo()
    bank = system.sandbox.url("bank") + "/_sandbox/transfers"
    httpx.post(bank, json={"amount": 5500, "payer_name": "ｽｽﾞｷ ｲﾁﾛｳ"}, timeout=5)
    system.deliver_webhooks("bank", 1)
    system.sandbox.configure("bank", webhook_url=None)  # this one never reaches the ledger
    unseen = httpx.post(bank, json={"amount": 7700, "payer_name": "ﾀﾅｶ ｼﾞﾛｳ"}, timeout=5).json()["transfers"][0]
    httpx.post(bank, json={"amount": 880, "direction": "out", "summary": "ﾃｽｳﾘﾖｳ"}, timeout=5)

    checked = bank_transfers.compare(today, client=system.bank())
    bank_transfers.compare(today, client=system.bank())

    assert checked == 2
    [item] = _open_items("bank.statement.")
    assert item.kind == "bank.statement.missing_in_ledger"
    assert item.subject_key == f"{today.isoformat()}:{unseen['inquiry_number']:08d}"
    assert json.loads(item.evidence_json)["statement"]["payer_name"] == "ﾀﾅｶ ｼﾞﾛｳ"
