"""Card payments through the payment gateway without servers (gateway faked with httpx.MockTransport):
how answers are classified, a double click, what a succeeded / declined charge does to the ledger,
webhook duplicates, refunds, and the daily settlement report diff."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import httpx
import pytest
from sqlmodel import select

from services.billing import allocation, card_payments, payment_settlement, payments
from services.integrations.http import sign
from services.integrations.payment import PaymentClient, PaymentUnreachable
from services.ledger import lines
from services.models import AuditEntry, ExternalOperation, Invoice, Payment, PaymentAllocation, ReviewItem
from services.models.base import utcnow
from services.operations import recovery
from services.platform import clock, installation_secrets
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, PermissionDenied, ValidationFailed
from services.tasks import outbox
from services.workflow import daily_reconciliation, webhooks
from services.workflow import outbox as ledger_outbox
from services.workflow.outbox import client_for


class FakeGateway:
    """A scripted gateway: POSTs answer from `script` (status or exception), then 201; remembers charges."""

    def __init__(self, *script, declined: bool = False):
        self.script = list(script)
        self.declined = declined
        self.posts: list[httpx.Request] = []
        self.charges: dict[str, dict] = {}  # idempotency key -> charge
        self.report_rows: list[dict] = []
        self.report_status = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts.append(request)
            step = self.script.pop(0) if self.script else 201
            if isinstance(step, Exception):
                raise step
            key, body = request.headers["Idempotency-Key"], json.loads(request.content)
            if step != 201:
                return httpx.Response(step, json={"error": "provider_error", "message": f"gateway says {step}"})
            if self.declined:
                self.charges[key] = {"id": f"ch_{len(self.charges) + 1}", "status": "failed", "idempotency_key": key}
                return httpx.Response(402, json={**self.charges[key], "failure_code": "card_declined"})
            prefix = "re" if request.url.path.endswith("/refunds") else "ch"
            self.charges[key] = {"id": f"{prefix}_{len(self.charges) + 1}", "status": "succeeded",
                                 "idempotency_key": key, **body}
            return httpx.Response(201, json=self.charges[key])
        if request.url.path in ("/charges", "/refunds"):
            key = request.url.params["idempotency_key"]
            return httpx.Response(200, json={"data": [self.charges[key]] if key in self.charges else []})
        if request.url.path == "/reports/settlement":
            if self.report_status != 200:
                return httpx.Response(self.report_status, json={"error": "down"})
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=["date", "type", "id", "charge_id", "customer_ref",
                                                     "idempotency_key", "amount", "fee", "net", "created_at"])
            writer.writeheader()
            writer.writerows(self.report_rows)
            return httpx.Response(200, text=out.getvalue())
        return httpx.Response(404, json={"error": "not_found"})

    def client(self) -> PaymentClient:
        return PaymentClient("http://gateway.test", transport=httpx.MockTransport(self.handler), read_timeout=1)


def _operation(invoice_id: int | None = None, *, payment_id: int | None = None) -> ExternalOperation:
    with read_session() as s:
        query = select(ExternalOperation).where(ExternalOperation.provider == "payment")
        query = query.where(ExternalOperation.invoice_id == invoice_id) if invoice_id else query.where(
            ExternalOperation.payment_id == payment_id, ExternalOperation.operation == "refund")
        return s.exec(query.order_by(ExternalOperation.id.desc())).first()


def _payments(invoice_id: int) -> list[Payment]:
    with read_session() as s:
        return list(s.exec(select(Payment).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
                           .where(PaymentAllocation.invoice_id == invoice_id)).all())


def _items(kind_prefix: str) -> list[ReviewItem]:
    with read_session() as s:
        return list(s.exec(select(ReviewItem).where(ReviewItem.kind.startswith(kind_prefix),
                                                    ReviewItem.status == "open").order_by(ReviewItem.id)).all())


def _payment_state(invoice_id: int) -> str:
    with read_session() as s:
        invoice = s.get(Invoice, invoice_id)
        return allocation.invoice_payment_state(allocation.allocated_amounts(s, [invoice_id])[invoice_id], invoice.total)


def _signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    return body, sign(body, installation_secrets.webhook_secret("payment"))


def _charged_invoice(world, accounting, gateway: FakeGateway):
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)
    assert outbox.run_operation(op.id, client=gateway.client()) == "succeeded"
    return invoice, _operation(invoice.id)


# ---- the client -------------------------------------------------------------------------------

def test_the_client_classifies_a_declined_card_as_the_gateways_no_and_5xx_or_timeouts_as_unknown():
    gateway = FakeGateway(503, httpx.ReadTimeout("slow"), 201)
    client = gateway.client()
    charge = {"provider": "payment", "operation": "charge", "idempotency_key": "payment-charge-k1",
              "payload": {"amount": 11000, "currency": "JPY", "customer_ref": "K-000001"}}

    assert client.call(charge).outcome == "unknown"
    assert client.call(charge).outcome == "unknown"
    assert client.call(charge).outcome == "succeeded"
    declined = FakeGateway(declined=True).client().call(charge)
    assert (declined.outcome, declined.status_code, declined.json()["failure_code"]) == ("failed", 402, "card_declined")


def test_a_refund_is_posted_under_its_charge_and_looked_up_among_refunds():
    gateway = FakeGateway()
    client = gateway.client()
    refund = {"provider": "payment", "operation": "refund", "idempotency_key": "payment-refund-pay1-x",
              "payload": {"charge_id": "ch_9", "amount": 500, "reason": "重複請求"}}

    assert client.call(refund).outcome == "succeeded"
    assert gateway.posts[0].url.path == "/charges/ch_9/refunds"
    assert json.loads(gateway.posts[0].content) == {"amount": 500, "reason": "重複請求"}
    assert client.lookup("payment-refund-pay1-x") == "applied"
    assert client.lookup("payment-refund-other") == "not_applied"
    no_charge = {**refund, "payload": {"amount": 500}}
    assert client.call(no_charge).outcome == "failed" and len(gateway.posts) == 1


def test_a_declined_charge_is_not_applied_so_the_reconciler_resends_and_gets_the_decline_again():
    gateway = FakeGateway(declined=True)
    client = gateway.client()
    client.call({"provider": "payment", "operation": "charge", "idempotency_key": "payment-charge-k2",
                 "payload": {"amount": 100, "customer_ref": "K-1"}})

    assert client.lookup("payment-charge-k2") == "not_applied"
    assert client.lookup("payment-charge-never") == "not_applied"


def test_the_payment_provider_is_registered_for_the_outbox():
    assert isinstance(client_for("payment"), PaymentClient)


# ---- charging an invoice ----------------------------------------------------------------------

def test_charging_an_invoice_queues_one_charge_of_its_outstanding_amount(world, accounting):
    invoice = world.invoice(unit_price=10000)

    op = card_payments.charge_invoice(invoice.id, actor=accounting)

    payload = json.loads(op.payload_json)
    assert (op.provider, op.operation, op.status, op.invoice_id) == ("payment", "charge", "pending", invoice.id)
    assert payload == {"amount": 11000, "currency": "JPY", "customer_ref": f"K-{invoice.customer_id:06d}",
                       "description": invoice.invoice_no, "payment_method": "pm_card_ok"}
    with read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.charge_card")).one()
    assert entry.entity_id == invoice.id and json.loads(entry.after_json)["external_operation_id"] == op.id


def test_a_double_click_charges_once(world, accounting):
    invoice = world.invoice()

    first = card_payments.charge_invoice(invoice.id, actor=accounting)
    second = card_payments.charge_invoice(invoice.id, actor=accounting)

    assert second.id == first.id
    with read_session() as s:
        assert len(s.exec(select(ExternalOperation).where(ExternalOperation.invoice_id == invoice.id)).all()) == 1
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.charge_card")).all()) == 1


def test_a_charge_with_an_unknown_outcome_blocks_a_new_charge_until_someone_looks(world, accounting):
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)
    ledger_outbox.settle(op.id, "unknown", detail="タイムアウト")

    with pytest.raises(Conflict, match="結果不明"):
        card_payments.charge_invoice(invoice.id, actor=accounting)


def test_a_paid_invoice_and_a_draft_cannot_be_charged_and_support_may_not_charge(world, accounting, support):
    invoice, _ = _charged_invoice(world, accounting, FakeGateway())
    draft = world.invoice(issued=False)

    with pytest.raises(Conflict, match="入金済み"):
        card_payments.charge_invoice(invoice.id, actor=accounting)
    with pytest.raises(ValidationFailed):
        card_payments.charge_invoice(draft.id, actor=accounting)
    with pytest.raises(PermissionDenied):
        card_payments.charge_invoice(world.invoice().id, actor=support)


def test_a_failed_charge_can_be_tried_again_with_another_card(world, accounting):
    invoice = world.invoice()
    first = card_payments.charge_invoice(invoice.id, actor=accounting, payment_method="pm_card_declined")
    outbox.run_operation(first.id, client=FakeGateway(declined=True).client())

    again = card_payments.charge_invoice(invoice.id, actor=accounting, payment_method="pm_card_ok")

    assert again.id != first.id and json.loads(again.payload_json)["payment_method"] == "pm_card_ok"


# ---- outcomes -----------------------------------------------------------------------------------

def test_a_succeeded_charge_records_one_card_payment_allocated_to_the_invoice(world, accounting):
    invoice, op = _charged_invoice(world, accounting, FakeGateway())

    [payment] = _payments(invoice.id)
    assert (payment.method, payment.amount, payment.status, payment.external_ref) == ("card", 11000, "matched", "ch_1")
    assert op.provider_ref == "ch_1" and op.payment_id == payment.id
    assert _payment_state(invoice.id) == "paid"
    with read_session() as s:
        actions = [(e.action, e.actor_kind) for e in s.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "payment", AuditEntry.entity_id == payment.id).order_by(AuditEntry.id))]
    assert actions == [("payment.record", "system"), ("payment.allocate", "system")]


def test_a_charge_retried_after_timeouts_is_sent_under_one_key_and_recorded_once(world, accounting):
    gateway = FakeGateway(httpx.ReadTimeout("slow"), 503)
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)

    assert outbox.run_operation(op.id, client=gateway.client()) == "retry"
    with write_session() as s:
        s.get(ExternalOperation, op.id).next_attempt_at = utcnow()
    assert outbox.run_operation(op.id, client=gateway.client()) == "retry"
    assert outbox.run_operation(op.id, client=gateway.client()) == "succeeded"

    assert {p.headers["Idempotency-Key"] for p in gateway.posts} == {op.idempotency_key}
    assert len(_payments(invoice.id)) == 1


def test_a_declined_card_records_nothing_and_opens_a_review_item(world, accounting):
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting, payment_method="pm_card_declined")

    assert outbox.run_operation(op.id, client=FakeGateway(declined=True).client()) == "failed"

    assert _operation(invoice.id).status == "failed" and _payments(invoice.id) == []
    assert _payment_state(invoice.id) == "unpaid"
    [item] = _items("payment.charge.")
    assert item.kind == "payment.charge.failed" and item.customer_id == invoice.customer_id
    assert "card_declined" in item.reason


def test_a_charge_confirmed_only_by_lookup_is_recorded_and_the_webhook_later_fills_in_the_charge_id(
        world, accounting, monkeypatch):
    monkeypatch.setattr(webhooks, "_enqueue", lambda row_id: None)
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)
    ledger_outbox.settle(op.id, "succeeded", detail="照会で確認", evidence={"source": "reconciliation"})
    [payment] = _payments(invoice.id)
    assert payment.external_ref is None and [i.kind for i in _items("payment.")] == ["payment.charge.missing_ref"]

    body, signature = _signed({"id": "evt_late", "type": "charge.succeeded",
                               "data": {"id": "ch_late", "idempotency_key": op.idempotency_key}})
    webhooks.accept("payment", body, signature)
    with read_session() as s:
        row_id = s.exec(select(webhooks.InboundEvent.id)).one()
    webhooks.process_event(row_id)

    [payment] = _payments(invoice.id)
    assert payment.external_ref == "ch_late" and _items("payment.") == []


# ---- webhooks -------------------------------------------------------------------------------------

def test_duplicate_and_early_charge_webhooks_record_the_payment_exactly_once(world, accounting, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", queued.append)
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)
    event = {"id": "evt_1", "type": "charge.succeeded", "sequence": 1,
             "data": {"id": "ch_1", "status": "succeeded", "idempotency_key": op.idempotency_key, "amount": 11000}}
    body, signature = _signed(event)
    other_body, other_signature = _signed({**event, "id": "evt_1b"})  # the same news under another event id

    assert webhooks.accept("payment", body, signature)[1]["duplicate"] is False
    assert webhooks.accept("payment", body, signature)[1]["duplicate"] is True
    webhooks.accept("payment", other_body, other_signature)
    results = [webhooks.process_event(row_id) for row_id in queued]
    # the gateway's answer arrives after the webhook: the operation is settled already
    assert outbox.run_operation(op.id, client=FakeGateway().client()) == "skipped"

    assert results == [f"operation #{op.id} succeeded", f"operation #{op.id} already succeeded"]
    [payment] = _payments(invoice.id)
    assert payment.external_ref == "ch_1" and _operation(invoice.id).provider_ref == "ch_1"


def test_a_charge_failed_webhook_settles_the_charge_as_declined(world, accounting, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", queued.append)
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)
    webhooks.accept("payment", *_signed({"id": "evt_f", "type": "charge.failed", "data": {
        "id": "ch_2", "status": "failed", "failure_code": "insufficient_funds", "idempotency_key": op.idempotency_key}}))

    webhooks.process_event(queued[0])

    assert _operation(invoice.id).status == "failed" and _payments(invoice.id) == []
    assert "insufficient_funds" in _items("payment.charge.failed")[0].reason


# ---- refunds ----------------------------------------------------------------------------------

def test_refunding_a_card_payment_sends_the_refund_to_the_gateway_in_the_same_transaction(
        world, accounting, approved_execution):
    invoice, _ = _charged_invoice(world, accounting, FakeGateway())
    [payment] = _payments(invoice.id)

    payments.refund_payment(payment.id, actor=accounting, reason="二重払いのため")
    payments.refund_payment(payment.id, actor=accounting, reason="二重払いのため")

    refund = _operation(payment_id=payment.id)
    assert json.loads(refund.payload_json) == {"charge_id": "ch_1", "amount": 11000, "reason": "二重払いのため"}
    assert refund.customer_id == invoice.customer_id
    with read_session() as s:
        assert len(s.exec(select(ExternalOperation).where(ExternalOperation.operation == "refund")).all()) == 1
    gateway = FakeGateway()
    assert outbox.run_operation(refund.id, client=gateway.client()) == "succeeded"
    assert gateway.posts[0].url.path == "/charges/ch_1/refunds"
    with read_session() as s:
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "payment.refund_confirmed")).one().entity_id \
            == payment.id


def test_a_refund_the_gateway_refuses_opens_a_review_item(world, accounting, approved_execution):
    invoice, _ = _charged_invoice(world, accounting, FakeGateway())
    [payment] = _payments(invoice.id)
    payments.refund_payment(payment.id, actor=accounting, reason="解約")
    refund = _operation(payment_id=payment.id)

    assert outbox.run_operation(refund.id, client=FakeGateway(409).client()) == "failed"

    [item] = _items("payment.refund.")
    assert item.kind == "payment.refund.failed" and item.external_operation_id == refund.id
    with read_session() as s:
        assert s.get(Payment, payment.id).status == "refunded"


def test_refunding_money_that_did_not_come_through_the_gateway_sends_nothing(world, accounting, approved_execution):
    payment = world.payment(method="card")
    payments.mark_payment_unmatched(payment.id, actor=accounting, reason="該当請求なし")

    payments.refund_payment(payment.id, actor=accounting, reason="返金")

    assert _operation(payment_id=payment.id) is None


# ---- the settlement report --------------------------------------------------------------------

def _row(op: ExternalOperation, amount: int, day: date, kind: str = "charge") -> dict:
    return {"date": day.isoformat(), "type": kind, "id": op.provider_ref or "ch_x", "charge_id": op.provider_ref,
            "customer_ref": "K-1", "idempotency_key": op.idempotency_key, "amount": amount,
            "fee": amount * 36 // 1000, "net": amount - amount * 36 // 1000, "created_at": ""}


def test_the_settlement_diff_finds_missing_and_different_rows_once(world, accounting):
    gateway = FakeGateway()
    today = clock.today_in_tokyo()
    _, agreed = _charged_invoice(world, accounting, gateway)
    _, unreported = _charged_invoice(world, accounting, gateway)
    _, wrong_amount = _charged_invoice(world, accounting, gateway)
    doubtful = card_payments.charge_invoice(world.invoice().id, actor=accounting)
    ledger_outbox.settle(doubtful.id, "unknown", detail="タイムアウト")
    gateway.report_rows = [_row(agreed, 11000, today), _row(wrong_amount, 9900, today), _row(doubtful, 11000, today),
                           {**_row(agreed, 500, today, "refund"), "idempotency_key": "someone-elses-refund"}]

    assert payment_settlement.compare(today, client=gateway.client()) == 4
    payment_settlement.compare(today, client=gateway.client())  # a re-run queues nothing twice

    kinds = sorted(((i.kind, i.external_operation_id) for i in _items("payment.settlement.")), key=str)
    assert kinds == sorted([("payment.settlement.amount_mismatch", wrong_amount.id),
                            ("payment.settlement.missing_in_ledger", doubtful.id),
                            ("payment.settlement.missing_in_ledger", None),
                            ("payment.settlement.missing_in_report", unreported.id)], key=str)
    mismatch = next(i for i in _items("payment.settlement.amount_mismatch"))
    evidence = json.loads(mismatch.evidence_json)
    assert evidence["report"]["amount"] == "9900" and evidence["ledger"]["amount"] == 11000
    assert mismatch.subject_key == f"{today.isoformat()}:{wrong_amount.idempotency_key}"


def test_a_charge_reported_the_day_before_is_not_missing_from_todays_report(world, accounting):
    gateway = FakeGateway()
    today = clock.today_in_tokyo()
    _, op = _charged_invoice(world, accounting, gateway)
    gateway.report_rows = [_row(op, 11000, today - timedelta(days=1))]  # the fake serves it for any date

    payment_settlement.compare(today, client=gateway.client())

    assert _items("payment.settlement.") == []


def test_an_unreachable_settlement_report_fails_the_run_so_it_is_tried_again(engine, monkeypatch):
    gateway = FakeGateway()
    gateway.report_status = 503
    with pytest.raises(daily_reconciliation.ReportUnavailable):
        payment_settlement.compare(date(2024, 5, 1), client=gateway.client())
    with pytest.raises(PaymentUnreachable):
        gateway.client().settlement_report(date(2024, 5, 1))
    monkeypatch.setattr(payment_settlement, "client_for", lambda provider: gateway.client())

    run = daily_reconciliation.run("payment_settlement", date(2024, 5, 1))

    assert run.status == "failed" and "HTTP 503" in run.error


def test_accounting_resolves_and_retries_payment_items_but_not_carrier_ones(world, accounting):
    invoice = world.invoice()
    op = card_payments.charge_invoice(invoice.id, actor=accounting)
    ledger_outbox.settle(op.id, "unknown", detail="決済代行の応答がタイムアウトしました（504）")
    with read_session() as s:
        item = s.exec(select(ReviewItem).where(ReviewItem.external_operation_id == op.id)).one()
    again = recovery.retry_operation(op.id, actor=accounting, reason="決済代行の障害が復旧したため")
    assert again.id == op.id and again.status == "pending"  # the same key goes out again
    assert recovery.resolve_review_item(item.id, actor=accounting, reason="決済代行の管理画面で確認").status == "resolved"

    line = world.line()
    lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
    world.carrier_done(line.id, "unknown")
    with read_session() as s:
        carrier_item = s.exec(select(ReviewItem).where(ReviewItem.line_id == line.id)).first()
        carrier_op = s.exec(select(ExternalOperation).where(ExternalOperation.line_id == line.id)).one()
    with pytest.raises(PermissionDenied):
        recovery.resolve_review_item(carrier_item.id, actor=accounting, reason="経理では判断できない")
    with pytest.raises(PermissionDenied):
        recovery.retry_operation(carrier_op.id, actor=accounting, reason="経理では判断できない")
