"""Card payments (クレジットカード) through the payment gateway: charging an invoice, refunds, gateway webhooks.

`charge_invoice` puts one charge for an invoice's outstanding amount in the outbox (`charge_card_on_file` does the
same when a bill is issued to a customer with a card on file); the outbox task
sends it under its idempotency key. When the gateway's answer (or its webhook, or the reconciler's
look-up) says the charge succeeded, `apply_outcome` records the money as a card payment allocated
to the invoice (消込済), once: the gateway's charge id is the payment's external_ref. A declined
card leaves the ledger unchanged; the outbox opens a review item for staff. A card payment refunded
in the ledger (services.billing.payments.refund_payment) sends a refund to the gateway in the same
transaction (`enqueue_gateway_refund`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from services.billing import card_checkout, card_on_file, dunning
from services.billing.allocation import allocate, allocated_amounts
from services.billing.debit_applications import active_mandate
from services.integrations import payment
from services.models import Customer, ExternalOperation, Invoice, Payment, ReviewItem
from services.models.base import utcnow
from services.models.billing import InvoiceStatus
from services.models.workflow import ExternalOperationStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.identifiers import customer_code
from services.platform.permissions import SYSTEM, Actor, require
from services.workflow.outbox import Provider, enqueue
from services.workflow.webhooks import settle_by_key

PROVIDER = "payment"
PAYMENT_METHOD_MAX_LENGTH = 64
DEFAULT_METHOD = "pm_card_ok"  # the gateway's test method, for a customer without a card on file
MISSING_REF_KIND = "payment.charge.missing_ref"
UNALLOCATED_KIND = "payment.charge.unallocated"
# charge operations of an invoice that may still take (or have taken) the money
OPEN_STATUSES = (ExternalOperationStatus.PENDING.value, ExternalOperationStatus.IN_FLIGHT.value)


@mutating_service
def charge_invoice(invoice_id: int, *, actor: Actor, payment_method: str | None = None,
                   reason: str | None = None) -> ExternalOperation:
    """Charge an issued invoice's outstanding amount to the customer's card (accounting, admin; カードで請求).

    The card is `payment_method` when given, else the customer's card on file (services.billing.card_on_file),
    else the gateway's default test method. Puts one "charge" operation for the payment gateway in the outbox
    (amount, JPY, customer code, invoice number, payment method) and writes one audit entry (invoice.charge_card).
    A second request while a charge of the invoice is waiting or being sent returns that charge (a double
    click charges once); one whose outcome is unknown (要確認) is refused until a person settles
    it; a paid invoice is refused. The payment is recorded when the gateway confirms the charge.
    """
    require(actor, "payment.manage")
    with write_session() as session:
        invoice = session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()
        if invoice is None:
            raise NotFound("請求書が見つかりません。")
        require(actor, "payment.manage", invoice)
        if payment_method is None:
            card = card_on_file.active_card(session, invoice.customer_id)
            payment_method = card.gateway_ref if card is not None else DEFAULT_METHOD
        payment_method = payment_method.strip()
        if not payment_method.startswith("pm_") or len(payment_method) > PAYMENT_METHOD_MAX_LENGTH:
            raise ValidationFailed({"payment_method": "カードの支払方法IDが正しくありません。"})
        if invoice.status != InvoiceStatus.ISSUED:
            raise ValidationFailed({"invoice_id": "発行済の請求書のみカードで請求できます。"})
        charges = _charges(session, invoice.id)
        waiting = next((op for op in charges if op.status in OPEN_STATUSES), None)
        if waiting is not None:
            return waiting
        doubtful = next((op for op in charges if op.status == ExternalOperationStatus.UNKNOWN), None)
        if doubtful is not None:
            raise Conflict(f"この請求書のカード請求（外部連携処理 #{doubtful.id}）は結果不明です。"
                           "二重請求を避けるため、要確認の一覧で結果を確かめてから請求してください。")
        outstanding = invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]
        if outstanding <= 0:
            paid_by_card = any(op.status == ExternalOperationStatus.SUCCEEDED for op in charges)
            raise Conflict(f"請求書 {invoice.invoice_no} は入金済みのため請求できません。"
                           + ("カードでの請求は完了しています。" if paid_by_card else ""))
        return _enqueue_charge(session, invoice, outstanding, payment_method, actor, (reason or "").strip() or None)


def _charges(session: Session, invoice_id: int) -> list[ExternalOperation]:
    """An invoice's card charges, newest first."""
    return list(session.exec(select(ExternalOperation).where(
        ExternalOperation.provider == PROVIDER, ExternalOperation.operation == "charge",
        ExternalOperation.invoice_id == invoice_id).order_by(ExternalOperation.id.desc())).all())


def _enqueue_charge(session: Session, invoice: Invoice, amount: int, payment_method: str, actor: Actor,
                    reason: str | None) -> ExternalOperation:
    """One "charge" operation for the gateway and its audit entry (invoice.charge_card), in the caller's
    transaction."""
    payload = {"amount": amount, "currency": "JPY", "customer_ref": customer_code(invoice.customer_id),
               "description": invoice.invoice_no, "payment_method": payment_method}
    op = enqueue(session, provider=PROVIDER, operation="charge", subject=f"inv{invoice.id}", payload=payload,
                 customer_id=invoice.customer_id, contract_id=invoice.contract_id, invoice_id=invoice.id)
    record(session, actor, "invoice.charge_card", invoice,
           after={**snapshot(invoice), "external_operation_id": op.id, "idempotency_key": op.idempotency_key,
                  "amount": amount, "payment_method": payment_method}, reason=reason)
    return op


def charge_card_on_file(session: Session, invoice: Invoice) -> ExternalOperation | None:
    """Charge a bill just issued to the customer's card on file, in the issuing transaction (system; the billing
    run's issue step, issuing one invoice and a correction's reissue call it). Returns the charge, or None.

    Only a bill (not a credit note) with something owed, of a customer with an active card on file and no active
    口座振替 mandate (口座振替 takes precedence). Once per bill: a bill that has had a card charge, whatever became
    of it, is not charged again (issuing twice, a resumed run: one charge); nor is a reissue while a charge of the
    bill it replaces may still take the money. A declined charge opens the bill's dunning case (apply_outcome).
    """
    if invoice.kind != "invoice" or invoice.status != InvoiceStatus.ISSUED:
        return None
    card = card_on_file.active_card(session, invoice.customer_id)
    if card is None or active_mandate(session, invoice.customer_id) is not None or _charges(session, invoice.id):
        return None
    if invoice.replaces_invoice_id is not None and any(
            op.status in (*OPEN_STATUSES, ExternalOperationStatus.UNKNOWN.value)
            for op in _charges(session, invoice.replaces_invoice_id)):
        return None
    outstanding = invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]
    if outstanding <= 0:
        return None
    shown = card_on_file.card_view(card)
    return _enqueue_charge(session, invoice, outstanding, card.gateway_ref, SYSTEM,
                           f"登録カード（{shown['masked']}）への自動請求")


def enqueue_gateway_refund(session: Session, payment: Payment, reason: str) -> ExternalOperation | None:
    """Send the refund of a gateway card payment (its external_ref is a charge id) to the gateway, in the
    caller's transaction; None for money that did not come through the gateway."""
    if payment.method != "card" or not payment.external_ref:
        return None
    charged = session.exec(select(ExternalOperation.id).where(
        ExternalOperation.provider == PROVIDER,
        ExternalOperation.operation.in_(("charge", card_checkout.OPEN_PAGE)),  # staff's charge, customer's card page
        ExternalOperation.payment_id == payment.id)).first()
    if charged is None:
        return None
    return enqueue(session, provider=PROVIDER, operation="refund", subject=f"pay{payment.id}",
                   payload={"charge_id": payment.external_ref, "amount": payment.amount, "reason": reason[:200]},
                   customer_id=payment.customer_id, payment_id=payment.id)


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled gateway operation to the ledger (called by services.workflow.outbox.settle, same transaction).

    A succeeded charge becomes a card payment allocated to its invoice, once (audited as system);
    a succeeded refund is noted in the payment's history. A declined charge (failed) opens the invoice's
    dunning case, so the customer is told at once what to do and by when (the outbox's review item asks
    staff to look too); an unknown outcome changes nothing until the reconciler knows. Opening and closing a
    customer's card page (カードで支払う) is services.billing.card_checkout's; opening the page that registers a card
    on file is services.billing.card_on_file's.
    """
    if op.operation in card_checkout.OPERATIONS:
        card_checkout.apply_outcome(session, op, outcome, detail, evidence)
        return
    if op.operation in card_on_file.OPERATIONS:
        card_on_file.apply_outcome(session, op, outcome, detail, evidence)
        return
    if outcome == "failed" and op.operation == "charge" and op.invoice_id is not None:
        invoice = session.get(Invoice, op.invoice_id)
        if invoice is not None and invoice.status == InvoiceStatus.ISSUED.value:
            dunning.open_case(session, invoice, "card_failed")
        return
    if outcome != "succeeded":
        return
    if op.operation == "charge":
        _record_charge(session, op, evidence)
    elif op.operation == "refund" and op.payment_id is not None:
        payment = session.get(Payment, op.payment_id)
        refund_id = op.provider_ref or _event_object_id(evidence) or "不明"
        record(session, SYSTEM, "payment.refund_confirmed", payment,
               reason=f"決済代行で返金完了を確認（返金ID {refund_id}、外部連携処理 #{op.id}）: {detail}"[:500])


def _record_charge(session: Session, op: ExternalOperation, evidence: dict[str, Any]) -> None:
    charge_id = op.provider_ref or _event_object_id(evidence)
    if op.payment_id is not None:
        return
    existing = session.exec(select(Payment).where(Payment.external_ref == charge_id)).first() if charge_id else None
    if existing is not None:
        op.payment_id = existing.id
        session.add(op)
        return
    payload = json.loads(op.payload_json)
    invoice = session.exec(select(Invoice).where(Invoice.id == op.invoice_id).with_for_update()).first()
    customer = session.get(Customer, op.customer_id) if op.customer_id else None
    payment = Payment(customer_id=op.customer_id, amount=int(payload["amount"]), method="card",
                      payer_name=(customer.name if customer else payload.get("customer_ref") or "カード")[:200],
                      reference=(invoice.invoice_no if invoice else payload.get("description")),
                      external_ref=charge_id)
    session.add(payment)
    session.flush()
    op.provider_ref = op.provider_ref or charge_id
    op.payment_id = payment.id
    session.add(op)
    record(session, SYSTEM, "payment.record", payment,
           reason=f"カード請求の完了（請求ID {charge_id or '不明'}、外部連携処理 #{op.id}）")
    if invoice is not None and invoice.status == InvoiceStatus.ISSUED:
        allocate(session, payment, invoice, payment.amount, actor=SYSTEM,
                 reason=f"カード請求した請求書へ自動消込（外部連携処理 #{op.id}）")
    else:
        session.add(ReviewItem(
            kind=UNALLOCATED_KIND, customer_id=op.customer_id, external_operation_id=op.id,
            reason="カード請求は完了しましたが、請求書が発行済ではないため消込していません。入金を確認してください。",
            evidence_json=json.dumps({"payment_id": payment.id, "invoice_id": op.invoice_id, "charge_id": charge_id},
                                     ensure_ascii=False)))
    if charge_id is None:
        session.add(ReviewItem(
            kind=MISSING_REF_KIND, customer_id=op.customer_id, external_operation_id=op.id,
            reason="カード請求の完了を照会で確認しましたが、決済代行の請求IDが分かりません。"
                   "決済代行の通知を待つか、管理画面で請求IDを確認してください（返金は請求IDが必要です）。",
            evidence_json=json.dumps({"payment_id": payment.id, **evidence}, ensure_ascii=False, default=str)))


def _event_object_id(evidence: dict[str, Any]) -> str | None:
    """The gateway's id of the charge / refund in a webhook's evidence, or in the answer body."""
    data = evidence.get("data")
    if not isinstance(data, dict):
        try:
            data = json.loads(evidence.get("body") or "{}")
        except ValueError:
            data = {}
    ref = data.get("id") if isinstance(data, dict) else None
    return str(ref)[:128] if ref else None


def _fill_missing_charge_ref(session: Session, event: dict[str, Any]) -> None:
    """A charge.succeeded webhook names the charge id that a look-up could not give: note it on the payment."""
    data = event.get("data") or {}
    op = session.exec(select(ExternalOperation).where(
        ExternalOperation.provider == PROVIDER, ExternalOperation.idempotency_key == data.get("idempotency_key"))
    ).first()
    if op is None or op.payment_id is None or not data.get("id"):
        return
    payment = session.get(Payment, op.payment_id)
    if payment.external_ref:
        return
    before = snapshot(payment)
    payment.external_ref = str(data["id"])[:128]
    op.provider_ref = op.provider_ref or payment.external_ref
    session.add(payment)
    session.add(op)
    record(session, SYSTEM, "payment.external_ref", payment, before=before,
           reason=f"決済代行の通知（{event.get('id')}）で請求IDを確認しました。")
    for item in session.exec(select(ReviewItem).where(ReviewItem.external_operation_id == op.id,
                                                      ReviewItem.kind == MISSING_REF_KIND,
                                                      ReviewItem.status == "open")).all():
        item.status, item.resolved_at = "resolved", utcnow()
        item.resolution_reason = f"決済代行の通知で請求ID {payment.external_ref} を確認しました（自動）。"
        session.add(item)


def payment_event(session: Session, event: dict[str, Any]) -> str:
    """Apply one gateway webhook: charge.succeeded, charge.failed and refund.succeeded settle the operation
    sent under the event's idempotency key (duplicates and late events change nothing more); checkout.* events
    are a customer's card page (services.billing.card_checkout.checkout_event), setup.* events a card registered
    for later bills (services.billing.card_on_file.setup_event)."""
    kind, data = event.get("type"), event.get("data") or {}
    if str(kind).startswith("checkout."):
        return card_checkout.checkout_event(session, event)
    if str(kind).startswith("setup."):
        return card_on_file.setup_event(session, event)
    key = data.get("idempotency_key")
    if kind == "charge.succeeded":
        result = settle_by_key(session, PROVIDER, event, key, "succeeded", f"決済完了通知（{event.get('id')}）")
        _fill_missing_charge_ref(session, event)
        return result
    if kind == "charge.failed":
        return settle_by_key(session, PROVIDER, event, key, "failed",
                             f"決済拒否通知（{event.get('id')}）: {data.get('failure_code') or '理由不明'}")
    if kind == "refund.succeeded":
        return settle_by_key(session, PROVIDER, event, key, "succeeded", f"返金完了通知（{event.get('id')}）")
    return f"ignored: {kind}"


PAYMENT_PROVIDER = Provider("payment", client=payment.default_client, apply_outcome=apply_outcome)
