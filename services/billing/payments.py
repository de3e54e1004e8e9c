"""Payments (入金): recording money received, allocation to invoices (消込), unmatched and refunds."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from services.billing.allocation import PAYMENT, allocate
from services.billing.card_payments import enqueue_gateway_refund
from services.models import Customer, Invoice, Payment, PaymentAllocation
from services.models.billing import PAYMENT_METHODS, InvoiceStatus, PaymentEvent, PaymentStatus
from services.platform.audit import mutating_service, record
from services.platform.db import write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import tokyo_time, yen
from services.platform.labels import state_label
from services.platform.lifecycle import transition
from services.platform.permissions import Actor, require
from services.workflow import approvals
from services.workflow.approval_gate import require_approval
from services.workflow.approvals import Policy, Preview

PAYER_NAME_MAX_LENGTH = 200
REFERENCE_MAX_LENGTH = 64


def _is_positive_yen(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _load_payment(session: Session, payment_id: int) -> Payment:
    payment = session.exec(select(Payment).where(Payment.id == payment_id).with_for_update()).first()
    if payment is None:
        raise NotFound("入金が見つかりません。")
    return payment


def allocated_total(session: Session, payment_id: int) -> int:
    """Sum already allocated from one payment to invoices."""
    total = session.exec(
        select(func.sum(PaymentAllocation.amount)).where(PaymentAllocation.payment_id == payment_id)
    ).one()
    return int(total or 0)


@mutating_service
def record_payment(
    *,
    actor: Actor,
    amount: int,
    method: str,
    payer_name: str,
    reference: str | None = None,
    customer_id: int | None = None,
) -> Payment:
    """Record money received (accounting, admin), status 受領; the customer may be unknown yet.

    The amount is a positive whole number of yen; the method one of PAYMENT_METHODS.
    Writes the payment and one audit entry (payment.record).
    """
    require(actor, "payment.manage")
    payer_name = (payer_name or "").strip()
    reference = (reference or "").strip() or None
    with write_session() as session:
        errors: dict[str, str] = {}
        if not _is_positive_yen(amount):
            errors["amount"] = "入金額は1円以上の整数で入力してください。"
        if method not in PAYMENT_METHODS:
            errors["method"] = "入金方法は銀行振込・口座振替・クレジットカードから選んでください。"
        if not payer_name:
            errors["payer_name"] = "振込名義・支払者名を入力してください。"
        elif len(payer_name) > PAYER_NAME_MAX_LENGTH:
            errors["payer_name"] = f"支払者名は{PAYER_NAME_MAX_LENGTH}文字以内で入力してください。"
        if reference is not None and len(reference) > REFERENCE_MAX_LENGTH:
            errors["reference"] = f"参照番号は{REFERENCE_MAX_LENGTH}文字以内で入力してください。"
        if customer_id is not None and session.get(Customer, customer_id) is None:
            errors["customer_id"] = "指定の顧客が見つかりません。"
        if errors:
            raise ValidationFailed(errors)
        payment = Payment(amount=amount, method=method, payer_name=payer_name, reference=reference,
                          customer_id=customer_id)
        session.add(payment)
        record(session, actor, "payment.record", payment)
    return payment


@mutating_service
def allocate_payment(payment_id: int, *, actor: Actor, invoice_id: int, amount: int,
                     reason: str | None = None) -> PaymentAllocation:
    """Assign part of a payment to an issued invoice (消込) (accounting, admin).

    The payment's allocations may not add up to more than its amount; an invoice may receive
    more than its total (it becomes 過入金). The payment takes the invoice's customer if it had
    none and must match it otherwise; it moves to 消込済. One payment is allocated to one
    invoice at most once. Writes the allocation and one audit entry (payment.allocate).
    """
    with write_session() as session:
        payment = _load_payment(session, payment_id)
        require(actor, "payment.manage", payment)
        if not _is_positive_yen(amount):
            raise ValidationFailed({"amount": "消込額は1円以上の整数で入力してください。"})
        if payment.status != PaymentStatus.MATCHED:
            PAYMENT.next_state(payment.status, PaymentEvent.MATCH)  # refunded payments refuse here
        invoice = session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()
        if invoice is None:
            raise ValidationFailed({"invoice_id": "指定の請求書が見つかりません。"})
        if invoice.status == InvoiceStatus.VOID:
            raise ValidationFailed({"invoice_id": "無効化された請求書には消込できません。"})
        if invoice.status != InvoiceStatus.ISSUED:
            raise ValidationFailed({"invoice_id": "発行済の請求書にのみ消込できます。先に請求書を発行してください。"})
        if payment.customer_id is not None and payment.customer_id != invoice.customer_id:
            raise ValidationFailed({"invoice_id": "入金の顧客と請求書の顧客が一致しません。"})
        duplicate = session.exec(
            select(PaymentAllocation).where(PaymentAllocation.payment_id == payment.id,
                                            PaymentAllocation.invoice_id == invoice.id)
        ).first()
        if duplicate is not None:
            raise Conflict(f"この入金は既に請求書 {invoice.invoice_no} に{duplicate.amount:,}円消込済みです。"
                           "同じ請求書への二重の消込はできません。")
        remaining = payment.amount - allocated_total(session, payment.id)
        if amount > remaining:
            raise ValidationFailed({"amount": f"入金額を超えて消込できません（消込可能な残額: {remaining:,}円）。"})
        allocation = allocate(session, payment, invoice, amount, actor=actor, reason=(reason or "").strip() or None)
    return allocation


@mutating_service
def mark_payment_unmatched(payment_id: int, *, actor: Actor, reason: str) -> Payment:
    """Mark a received payment as 未消込 (no invoice found for it) (accounting, admin).

    A reason is required; repeating it changes nothing. Writes one audit entry.
    """
    return _apply_event(payment_id, actor, PaymentEvent.MARK_UNMATCHED, PaymentStatus.UNMATCHED, reason)


@mutating_service
def refund_payment(payment_id: int, *, actor: Actor, reason: str) -> Payment:
    """Record that a matched or unmatched payment was paid back (返金) (accounting, admin).

    A reason is required; repeating it changes nothing. Its allocations stay as history but no
    longer count towards the invoices' payment state. Runs only as an approved request.
    A card payment taken through the payment gateway also puts the gateway refund in the outbox,
    in the same transaction. Writes one audit entry.
    """
    require_approval("payment.refund")
    return _apply_event(payment_id, actor, PaymentEvent.REFUND, PaymentStatus.REFUNDED, reason)


def _apply_event(payment_id: int, actor: Actor, event: PaymentEvent, target: PaymentStatus,
                 reason: str) -> Payment:
    with write_session() as session:
        payment = _load_payment(session, payment_id)
        require(actor, "payment.manage", payment)
        if not (reason or "").strip():
            raise ValidationFailed({"reason": "理由を入力してください。"})
        if payment.status == target:
            return payment
        def refund_at_the_gateway(refunded: Payment) -> None:
            if event == PaymentEvent.REFUND:
                enqueue_gateway_refund(session, refunded, reason.strip())

        transition(session, payment, PAYMENT, event, actor=actor, reason=reason.strip(), follow=refund_at_the_gateway)
    return payment


def _describe_refund(session: Session, params: dict) -> Preview:
    payment = approvals.get_record(session, Payment, params.get("payment_id"), "入金")
    after = PAYMENT.next_state(payment.status, PaymentEvent.REFUND)
    return Preview(
        summary=f"入金 {yen(payment.amount)}（名義 {payment.payer_name}、{tokyo_time(payment.received_at)}）を返金済にします。",
        changes=[("状態", state_label("payment", payment.status), state_label("payment", after))],
        target_key=f"payment:{payment.id}", customer_id=payment.customer_id,
    )


def _execute_refund(params: dict, actor: Actor, reason: str) -> None:
    refund_payment(int(params["payment_id"]), actor=actor, reason=reason)




POLICIES = (
    Policy("payment.refund", "入金の返金", "payment.manage", approvals.ACCOUNTING_CHECKERS,
           _describe_refund, _execute_refund, required_params=("payment_id",)),
)


def preview_refund(payment_id: int, *, actor: Actor) -> dict:
    """What asking for a refund would do (it always waits for a second person)."""
    return approvals.preview_operation("payment.refund", {"payment_id": payment_id}, actor=actor)


def request_refund(payment_id: int, *, actor: Actor, reason: str, confirm_repeat: bool = False) -> approvals.Submitted:
    """The one call for a refund, whoever asks: an approval request a second person decides."""
    return approvals.submit("payment.refund", {"payment_id": payment_id}, actor=actor, reason=reason,
                            confirm_repeat=confirm_repeat,
                            run_now=lambda: refund_payment(payment_id, actor=actor, reason=reason))
