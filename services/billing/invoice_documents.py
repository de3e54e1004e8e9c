"""The PDF of an issued invoice or credit note: made once from what was issued, stored with its SHA-256, and
served as the same bytes every time after (the stored document is never changed)."""

from __future__ import annotations

import hashlib

from sqlmodel import Session, select

from services.billing import invoice_pdf
from services.models import Customer, Invoice, InvoiceDocument, InvoiceItem
from services.models.billing import InvoiceStatus
from services.platform.audit import record
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict
from services.platform.identifiers import customer_code
from services.platform.permissions import SYSTEM, Actor, get_permitted

PAYMENT_INFO = ("お支払いは口座振替（ご登録の方）、クレジットカード、または銀行振込でお願いします。"
                "銀行振込の際は、ご依頼人名の前に請求書番号をご入力ください。")


def _document(session: Session, invoice: Invoice) -> invoice_pdf.PdfDocument:
    items = session.exec(select(InvoiceItem).where(InvoiceItem.invoice_id == invoice.id).order_by(InvoiceItem.id)).all()
    linked = invoice.corrects_invoice_id or invoice.replaces_invoice_id
    corrects = session.get(Invoice, linked).invoice_no if linked else ""
    recipient = invoice.recipient_name or session.get(Customer, invoice.customer_id).name
    return invoice_pdf.PdfDocument(
        kind=invoice.kind, number=invoice.invoice_no, issue_date=invoice.issue_date, due_date=invoice.due_date,
        period_start=invoice.period_start or invoice.issue_date, period_end=invoice.period_end or invoice.issue_date,
        issuer_name=invoice.issuer_name or "", issuer_registration_number=invoice.issuer_registration_number or "",
        issuer_address=invoice.issuer_address or "", recipient_name=recipient,
        recipient_code=customer_code(invoice.customer_id),
        items=[invoice_pdf.PdfItem(
            description=i.description, quantity=i.quantity, unit_price=i.unit_price, amount=i.amount,
            tax_rate_percent=i.tax_rate_percent,
            service_period=(f"{i.service_from:%m/%d}〜{i.service_to:%m/%d}"
                            if i.service_from and i.service_to and i.service_from != i.service_to else ""),
            note=i.note or "") for i in items],
        corrects_number=corrects, reason=invoice.correction_reason or "",
        payment_info="" if invoice.kind == "credit_note" else PAYMENT_INFO)


def invoice_pdf_bytes(invoice_id: int, *, actor: Actor) -> tuple[str, bytes]:
    """The PDF of an issued invoice or credit note as a download (file name, bytes) for someone who may see the
    invoice (staff, or its own customer). The first download makes and stores it (audited); every later one
    returns the stored bytes unchanged."""
    with read_session() as session:
        invoice = get_permitted(session, Invoice, invoice_id, "請求書が見つかりません。", actor, "invoice.view")
        if invoice.status == InvoiceStatus.DRAFT or invoice.issue_date is None:
            raise Conflict("下書きの請求書はPDFにできません。発行してからダウンロードしてください。")
        stored = session.exec(select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id)).first()
        name = f"{invoice.invoice_no}.pdf"
        if stored is not None:
            return name, stored.content
        content = invoice_pdf.render(_document(session, invoice))
    with write_session() as session:
        stored = session.exec(select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice_id)).first()
        if stored is not None:  # someone else made it in between: theirs is the document
            return name, stored.content
        row = InvoiceDocument(invoice_id=invoice_id, sha256=hashlib.sha256(content).hexdigest(), content=content)
        session.add(row)
        session.flush()
        record(session, SYSTEM, "invoice.document", row, after={"invoice_id": invoice_id, "sha256": row.sha256,
                                                                "bytes": len(content)},
               reason=f"{name} を作成して保存（以後は同じ内容を返します）")
    return name, content
