"""消込 (allocation): a payment assigned to invoices, the payment lifecycle it drives, and the
payment state of an invoice derived from what is allocated to it (never stored).

One step for manual 消込 and the automatic ones of bank transfers and card charges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, select

from services.models import Invoice, Payment, PaymentAllocation
from services.models.billing import PaymentEvent, PaymentStatus
from services.platform.audit import record, snapshot
from services.platform.labels import labels
from services.platform.lifecycle import Lifecycle
from services.platform.permissions import Actor

P, PE = PaymentStatus, PaymentEvent
PAYMENT = Lifecycle("payment", P, PE, {
    (P.RECEIVED, PE.MATCH): P.MATCHED,
    (P.RECEIVED, PE.MARK_UNMATCHED): P.UNMATCHED,
    (P.UNMATCHED, PE.MATCH): P.MATCHED,
    (P.MATCHED, PE.REFUND): P.REFUNDED,
    (P.UNMATCHED, PE.REFUND): P.REFUNDED,
})


class InvoicePaymentState(StrEnum):
    """How far an issued invoice is paid, derived from its allocations (never stored)."""

    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERPAID = "overpaid"


PAYMENT_STATE_LABELS_JA = labels("payment_state")  # 未収 / 一部入金 / 入金済 / 過入金


def invoice_payment_state(allocated: int, total: int) -> str:
    """未収 / 一部入金 / 入金済 / 過入金 of an invoice from the sum allocated to it."""
    if allocated > total:
        return InvoicePaymentState.OVERPAID
    if allocated == total:
        return InvoicePaymentState.PAID
    if allocated <= 0:
        return InvoicePaymentState.UNPAID
    return InvoicePaymentState.PARTIALLY_PAID


def allocated_amounts(session: Session, invoice_ids: Iterable[int]) -> dict[int, int]:
    """Sum allocated to each invoice, in one query (every id present; 0 when nothing).

    Allocations of refunded payments no longer count: that money went back to the payer.
    """
    ids = list(dict.fromkeys(invoice_ids))
    result = dict.fromkeys(ids, 0)
    if not ids:
        return result
    rows = session.exec(
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id.in_(ids))
        .where(Payment.status != PaymentStatus.REFUNDED.value)
        .group_by(PaymentAllocation.invoice_id)
    ).all()
    for invoice_id, amount in rows:
        result[invoice_id] = int(amount or 0)
    return result


AFTER_ALLOCATION: list[Callable[[Session, Invoice], None]] = []


def register_after_allocation(hook: Callable[[Session, Invoice], None]) -> None:
    """Run `hook(session, invoice)` after each allocation, in its transaction (dunning: a paid invoice's case)."""
    AFTER_ALLOCATION.append(hook)


def allocate(session: Session, payment: Payment, invoice: Invoice, amount: int, *, actor: Actor,
             reason: str | None = None, audited: bool = True) -> PaymentAllocation:
    """Assign `amount` of a payment to an invoice (消込) in the caller's transaction, after its checks.

    The payment takes the invoice's customer if it had none and moves to 消込済; writes the
    allocation and one audit entry "payment.allocate" with the allocation and the invoice number.
    """
    before = snapshot(payment)
    if payment.customer_id is None:
        payment.customer_id = invoice.customer_id
    if payment.status != PaymentStatus.MATCHED:
        payment.status = PAYMENT.next_state(payment.status, PaymentEvent.MATCH).value
    allocation = PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount=amount)
    session.add(payment)
    session.add(allocation)
    session.flush()
    if audited:  # a batch (a result file) writes one entry listing every allocation instead
        record(session, actor, "payment.allocate", payment, before=before,
               after={**snapshot(payment), "allocation": snapshot(allocation), "invoice_no": invoice.invoice_no},
               reason=reason)
    for hook in AFTER_ALLOCATION:
        hook(session, invoice)
    return allocation
