"""The customer app's bills: the company's issued invoices and credit notes (never drafts, never void ones), one
bill with its qualified-invoice details, and its stored PDF.

Who sees bills: the 法人管理者, and a 利用者 the 法人管理者 allowed to (can_view_bills). For anyone else every
bill is NotFound and the list is empty.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from services.billing.allocation import allocated_amounts, invoice_payment_state
from services.billing.invoice_documents import invoice_pdf_bytes
from services.billing.invoices import REDUCED_TAX_RATE_PERCENT, tax_by_rate
from services.ledger.customer_users import CustomerScope, customer_scope
from services.models import Invoice, InvoiceItem
from services.models.billing import InvoiceStatus
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session
from services.platform.errors import NotFound
from services.platform.formatting import yen
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor

NOT_FOUND = "請求書が見つかりません。"
REDUCED_MARK = "※"
REDUCED_NOTE = f"{REDUCED_MARK}は軽減税率（{REDUCED_TAX_RATE_PERCENT}%）対象"


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _row(inv: Invoice, allocated: int) -> dict[str, Any]:
    """A bill as the list shows it; a credit note owes nothing and has no payment state."""
    billed = inv.kind == "invoice"
    owed = max(0, inv.total - allocated) if billed else 0
    state = invoice_payment_state(allocated, inv.total) if billed else ""
    return {
        "id": inv.id, "invoice_no": inv.invoice_no, "kind": inv.kind, "kind_label": label("invoice_kind", inv.kind),
        "period": inv.period, "issue_date": _iso(inv.issue_date), "due_date": _iso(inv.due_date),
        "total": yen(inv.total), "total_yen": inv.total, "owed": yen(owed), "owed_yen": owed,
        "payment_state": str(state), "payment_state_label": label("payment_state", state, default=""),
        "overdue": bool(owed and inv.due_date and inv.due_date < today_in_tokyo()),
    }


def _shown(session: Session, invoice_id: Any, scope: CustomerScope) -> Invoice:
    """An issued bill of the person's company they may see; NotFound otherwise (the same words every time)."""
    inv = session.get(Invoice, invoice_id) if scope.can_view_bills and isinstance(invoice_id, int) else None
    if inv is None or inv.customer_id != scope.customer_id or inv.status != InvoiceStatus.ISSUED:
        raise NotFound(NOT_FOUND)
    return inv


def my_bills(*, actor: Actor) -> list[dict[str, Any]]:
    """The company's issued invoices and credit notes, newest first.

    Who: a customer actor (staff: PermissionDenied); a 利用者 without can_view_bills gets an empty list. Writes
    nothing. Each row: id, invoice_no, kind and label, period, issue and due dates, total, what is still owed
    (after 消込; 0 for a credit note), payment state and label (未収 / 一部入金 / 入金済 / 過入金), overdue
    (something owed after the due date, Tokyo).
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        if not scope.can_view_bills:
            return []
        invoices = session.exec(select(Invoice).where(
            Invoice.customer_id == scope.customer_id, Invoice.status == InvoiceStatus.ISSUED.value)
            .order_by(col(Invoice.issue_date).desc(), col(Invoice.id).desc())).all()
        allocated = allocated_amounts(session, [i.id for i in invoices])
    return [_row(inv, allocated[inv.id]) for inv in invoices]


def my_bill(invoice_id: int, *, actor: Actor) -> dict[str, Any]:
    """One issued bill with what a qualified invoice (適格請求書) shows.

    Who: a customer actor who may see bills (staff: PermissionDenied); a draft, a void bill, another company's
    bill or a 利用者 without can_view_bills: NotFound. Writes nothing. Returns the list row's fields plus
    subtotal, tax and total; the items (description, quantity, unit price, amount, tax rate with ※ on the
    reduced 8% rate, service period, note); the tax per rate (each rate's amount and its tax, rounded once per
    rate); the issuer's name, address and 登録番号; the credit note / reissue / original it is linked to (ids
    and numbers, 0 and "" when none); pdf_available.
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        inv = _shown(session, invoice_id, scope)
        items = session.exec(select(InvoiceItem).where(InvoiceItem.invoice_id == inv.id).order_by(InvoiceItem.id)).all()
        allocated = allocated_amounts(session, [inv.id])[inv.id]
        linked = session.exec(select(Invoice).where(
            Invoice.customer_id == scope.customer_id, Invoice.status == InvoiceStatus.ISSUED.value,
            (Invoice.corrects_invoice_id == inv.id) | (Invoice.replaces_invoice_id == inv.id)
            | (col(Invoice.id).in_([i for i in (inv.corrects_invoice_id, inv.replaces_invoice_id) if i])))).all()
    credit_note = next((i for i in linked if i.corrects_invoice_id == inv.id), None)
    reissue = next((i for i in linked if i.replaces_invoice_id == inv.id), None)
    original = next((i for i in linked if i.id in (inv.corrects_invoice_id, inv.replaces_invoice_id)), None)
    by_rate: dict[int, int] = defaultdict(int)
    for item in items:
        by_rate[item.tax_rate_percent] += item.amount
    taxes = tax_by_rate(dict(by_rate))
    return {
        **_row(inv, allocated),
        "subtotal": yen(inv.subtotal), "tax": yen(inv.tax),
        "period_start": _iso(inv.period_start), "period_end": _iso(inv.period_end),
        "issuer_name": inv.issuer_name or "", "issuer_address": inv.issuer_address or "",
        "issuer_registration_number": inv.issuer_registration_number or "",
        "recipient_name": inv.recipient_name or "",
        "items": [{
            "description": i.description, "quantity": i.quantity, "unit_price": yen(i.unit_price),
            "amount": yen(i.amount), "tax_rate": f"{i.tax_rate_percent}%"
            + (REDUCED_MARK if i.tax_rate_percent == REDUCED_TAX_RATE_PERCENT else ""),
            "reduced_rate": i.tax_rate_percent == REDUCED_TAX_RATE_PERCENT,
            "service_period": f"{i.service_from:%Y/%m/%d}〜{i.service_to:%Y/%m/%d}"
            if i.service_from and i.service_to else "",
            "note": i.note or "",
        } for i in items],
        "reduced_rate_note": REDUCED_NOTE if REDUCED_TAX_RATE_PERCENT in by_rate else "",
        "taxes": [{"rate": f"{rate}%対象", "rate_percent": rate, "taxable": yen(by_rate[rate]), "tax": yen(tax)}
                  for rate, tax in sorted(taxes.items(), reverse=True)],
        "credit_note_id": credit_note.id if credit_note else 0,
        "credit_note_no": credit_note.invoice_no if credit_note else "",
        "reissue_id": reissue.id if reissue else 0, "reissue_no": reissue.invoice_no if reissue else "",
        "original_id": original.id if original else 0, "original_no": original.invoice_no if original else "",
        "correction_reason": inv.correction_reason or "",
        "pdf_available": inv.issue_date is not None,
    }


def my_bill_pdf(invoice_id: int, *, actor: Actor) -> tuple[str, bytes]:
    """The stored PDF of an issued bill (file name, bytes): the very bytes staff download.

    Who: a customer actor who may see the bill (as `my_bill`; otherwise NotFound, staff PermissionDenied). The
    customer's scope is checked here; the document is then read through
    services.billing.invoice_documents.invoice_pdf_bytes as the system (the permission matrix gives customer
    roles no "invoice.view"). The first download of a bill makes and stores its PDF (audited there as the
    system); every later one returns the stored bytes.
    """
    with read_session() as session:
        inv = _shown(session, invoice_id, customer_scope(session, actor))
    return invoice_pdf_bytes(inv.id, actor=SYSTEM)
