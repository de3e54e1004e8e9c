"""Corrections (請求の訂正): an issued invoice is never edited. A correction, approved by a second person, is
a 適格返還請求書 (credit note) that returns the whole original, and a reissued invoice with the right items;
each names the other (the credit note the invoice it returns, the reissue the invoice it replaces), with
the reason.

The credit note settles the original (a payment of method credit_note allocated to it, so every screen and
job sees the original as settled); money the customer already paid on the original moves to the reissue,
and what is left over stays as a credit balance for the next bill. The mis-billing rate of a period is the
number of its invoices corrected divided by the number issued.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing.allocation import allocate
from services.billing.card_payments import charge_card_on_file
from services.billing.invoices import invoice_totals, take_numbers, validate_items
from services.models import ApprovalRequest, Contract, Customer, Invoice, InvoiceItem, Payment, PaymentAllocation
from services.models.billing import InvoiceStatus, PaymentStatus
from services.platform.audit import record, snapshot
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, ValidationFailed
from services.platform.formatting import yen
from services.platform.permissions import Actor, get_permitted, require
from services.workflow import approvals
from services.workflow.approval_gate import executing_request, require_approval
from services.workflow.approvals import Policy, Preview

OPERATION = "invoice.correct"


def _original(session: Session, invoice_id: Any) -> Invoice:
    invoice = approvals.get_record(session, Invoice, invoice_id, "請求書")
    if invoice.kind != "invoice" or invoice.status != InvoiceStatus.ISSUED:
        raise ValidationFailed({"invoice_id": "訂正できるのは発行済の請求書だけです。"})
    corrected = session.exec(select(Invoice).where(Invoice.corrects_invoice_id == invoice.id)).first()
    if corrected is not None:
        raise Conflict(f"この請求書は既に訂正されています（適格返還請求書 {corrected.invoice_no}）。")
    return invoice


def _items(params: dict) -> list[dict[str, Any]]:
    rows = []
    for raw in params.get("items") or []:
        rows.append({"description": raw.get("description"), "quantity": raw.get("quantity", 1),
                     "unit_price": raw.get("unit_price"), "tax_rate_percent": raw.get("tax_rate_percent", 10),
                     "line_id": raw.get("line_id")})
    return rows


def _checked_items(session: Session, invoice: Invoice, params: dict) -> list[dict[str, Any]]:
    errors: dict[str, str] = {}
    clean = validate_items(session, session.get(Contract, invoice.contract_id), _items(params), errors)
    if errors:
        raise ValidationFailed(errors)
    if invoice_totals(clean)[0] < 0:
        raise ValidationFailed({"items": "訂正後の小計が0円未満です。"})
    return clean


def _describe(session: Session, params: dict) -> Preview:
    invoice = _original(session, params.get("invoice_id"))
    clean = _checked_items(session, invoice, params)
    subtotal, tax, total = invoice_totals(clean)
    customer = session.get(Customer, invoice.customer_id)
    return Preview(
        summary=(f"請求書 {invoice.invoice_no}（{customer.name}、{invoice.period}、{yen(invoice.total)}）を訂正します。"
                 f"全額の適格返還請求書を発行し、正しい内容の請求書（{yen(total)}）を発行し直します。"),
        changes=[("請求額", yen(invoice.total), yen(total)), ("うち消費税", yen(invoice.tax), yen(tax)),
                 ("明細", f"{len(invoice_items(session, invoice.id))}行", f"{len(clean)}行")],
        target_key=f"invoice:{invoice.id}", customer_id=invoice.customer_id, contract_id=invoice.contract_id,
    )


def invoice_items(session: Session, invoice_id: int) -> list[InvoiceItem]:
    """An invoice's items in order."""
    return list(session.exec(select(InvoiceItem).where(InvoiceItem.invoice_id == invoice_id).order_by(InvoiceItem.id)))


def _copy(session: Session, invoice: Invoice, number: str, kind: str, items: list[dict[str, Any]],
          reason: str, **links: int) -> Invoice:
    subtotal, tax, total = invoice_totals(items)
    row = Invoice(invoice_no=number, customer_id=invoice.customer_id, contract_id=invoice.contract_id,
                  period=invoice.period, status=InvoiceStatus.ISSUED.value, subtotal=subtotal, tax=tax, total=total,
                  kind=kind, period_start=invoice.period_start, period_end=invoice.period_end,
                  correction_reason=reason[:500], issue_date=today_in_tokyo(),
                  due_date=None if kind == "credit_note" else invoice.due_date,
                  issuer_name=invoice.issuer_name, issuer_registration_number=invoice.issuer_registration_number,
                  issuer_address=invoice.issuer_address, recipient_name=invoice.recipient_name, **links)
    session.add(row)
    session.flush()
    session.add_all(InvoiceItem(invoice_id=row.id, description=i["description"], quantity=i["quantity"],
                                unit_price=i["unit_price"], amount=i["quantity"] * i["unit_price"],
                                tax_rate_percent=i["tax_rate_percent"], line_id=i.get("line_id"),
                                kind=i.get("kind", "charge"), service_from=i.get("service_from"),
                                service_to=i.get("service_to"), note=i.get("note")) for i in items)
    session.flush()
    return row


def _stated_reason(session: Session, reason: str) -> str:
    """The reason as the customer reads it on the credit note and the reissue: the one the requester wrote. The
    approval's bookkeeping the execution appends (request number, who asked, who approved) stays in the audit
    trail, off the customer's documents."""
    executing = executing_request()
    request = session.get(ApprovalRequest, executing.id) if executing is not None else None
    return (request.reason if request is not None and (request.reason or "").strip() else reason).strip()


def correct_invoice(invoice_id: int, *, actor: Actor, items: list[dict[str, Any]], reason: str) -> tuple[Invoice, Invoice]:
    """Carry out an approved correction (runs only as an approved request of invoice.correct): the credit note,
    the reissued invoice, the original settled by the credit note and its payments moved to the reissue; what is
    left to pay on the reissue is charged to a card on file (card_payments.charge_card_on_file).
    Returns (credit note, reissued invoice)."""
    require(actor, "invoice.manage")
    require_approval(OPERATION)
    with write_session() as session:
        original = _original(session, invoice_id)
        session.exec(select(Invoice).where(Invoice.id == original.id).with_for_update()).one()
        clean = _checked_items(session, original, {"items": items})
        stated = _stated_reason(session, reason)
        returned = [{"description": i.description, "quantity": i.quantity, "unit_price": i.unit_price,
                     "tax_rate_percent": i.tax_rate_percent, "line_id": i.line_id, "kind": i.kind,
                     "service_from": i.service_from, "service_to": i.service_to, "note": i.note}
                    for i in invoice_items(session, original.id)]
        credit = _copy(session, original, take_numbers(session, "credit_note", original.period)[0], "credit_note",
                       returned, stated, corrects_invoice_id=original.id)
        reissue = _copy(session, original, take_numbers(session, "invoice", original.period)[0], "invoice", clean,
                        stated, replaces_invoice_id=original.id)
        moved = _move_payments(session, original, reissue, actor)
        settle = Payment(customer_id=original.customer_id, amount=original.total, method="credit_note",
                         payer_name=f"適格返還請求書 {credit.invoice_no}", reference=credit.invoice_no,
                         status=PaymentStatus.RECEIVED.value)
        session.add(settle)
        session.flush()
        if original.total:
            allocate(session, settle, original, original.total, actor=actor,
                     reason=f"適格返還請求書 {credit.invoice_no} により相殺")
        record(session, actor, "invoice.correct", original, reason=reason, after={
            **snapshot(original), "credit_note": credit.invoice_no, "reissued": reissue.invoice_no,
            "reissued_total": reissue.total, "payments_moved": moved})
        charge_card_on_file(session, reissue)
    return credit, reissue


def _move_payments(session: Session, original: Invoice, reissue: Invoice, actor: Actor) -> int:
    """Money already allocated to the original moves to the reissue (up to its total; the rest stays as the
    customer's credit balance). Returns the yen moved."""
    moved, room = 0, reissue.total
    for allocation in session.exec(select(PaymentAllocation).where(PaymentAllocation.invoice_id == original.id)
                                   .order_by(PaymentAllocation.id)).all():
        payment = session.get(Payment, allocation.payment_id)
        if payment.status == PaymentStatus.REFUNDED:
            continue
        amount = allocation.amount
        record(session, actor, "payment.reallocate", payment, before={"allocation": snapshot(allocation)},
               after={"from_invoice": original.invoice_no, "to_invoice": reissue.invoice_no,
                      "amount": min(amount, room)}, reason="請求の訂正により訂正後の請求書へ充当")
        session.delete(allocation)
        session.flush()
        if room > 0:
            use = min(amount, room)
            allocate(session, payment, reissue, use, actor=actor, reason=f"{original.invoice_no} の訂正に伴う充当")
            room -= use
            moved += use
    return moved


def _execute(params: dict, actor: Actor, reason: str) -> None:
    correct_invoice(int(params["invoice_id"]), actor=actor, items=list(params.get("items") or []), reason=reason)


POLICIES = (
    Policy(OPERATION, "請求の訂正（適格返還請求書と再発行）", "invoice.manage", approvals.ACCOUNTING_CHECKERS,
           _describe, _execute, required_params=("invoice_id", "items")),
)


def editable_items(invoice_id: int, *, actor: Actor) -> list[dict[str, Any]]:
    """An issued invoice's items as the correction form starts from them."""
    with read_session() as session:
        invoice = get_permitted(session, Invoice, invoice_id, "請求書が見つかりません。", actor, "invoice.manage")
        return [{"description": i.description, "quantity": i.quantity, "unit_price": i.unit_price,
                 "tax_rate_percent": i.tax_rate_percent, "line_id": i.line_id}
                for i in invoice_items(session, invoice.id)]


def preview_correction(invoice_id: int, items: list[dict[str, Any]], *, actor: Actor) -> dict:
    """What correcting an invoice with these items would do (for the confirmation dialog)."""
    return approvals.preview_operation(OPERATION, {"invoice_id": invoice_id, "items": items}, actor=actor)


def request_correction(invoice_id: int, items: list[dict[str, Any]], *, actor: Actor, reason: str,
                       confirm_repeat: bool = False) -> approvals.Submitted:
    """The one call to correct an issued invoice, whoever asks: it always waits for a second person."""
    return approvals.submit(OPERATION, {"invoice_id": invoice_id, "items": items}, actor=actor, reason=reason,
                            confirm_repeat=confirm_repeat, run_now=lambda: None)


def misbilling_rate(period: str) -> tuple[int, int]:
    """(corrected, issued) invoices of a period: the mis-billing rate is corrected ÷ issued."""
    with read_session() as session:
        issued = session.exec(select(func.count()).select_from(Invoice).where(
            Invoice.period == period, Invoice.kind == "invoice", col(Invoice.replaces_invoice_id).is_(None),
            col(Invoice.status).in_([InvoiceStatus.ISSUED.value, InvoiceStatus.VOID.value]))).one()
        corrected = session.exec(select(func.count()).select_from(Invoice).where(
            Invoice.period == period, Invoice.kind == "credit_note")).one()
        return int(corrected), int(issued)
