"""Correcting an issued invoice (請求の訂正): approved by a second person, a credit note (適格返還請求書) returning
the whole original and a reissued invoice, linked both ways; the original settled; money paid on it moved to
the reissue with the excess kept as credit; the mis-billing rate; the stored PDFs. Yen figures by hand."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import select

from services.billing import billing_runs, corrections, invoice_documents, invoices, payments
from services.billing.allocation import allocated_amounts
from services.models import AuditEntry, Invoice, InvoiceDocument, InvoiceItem, Payment
from services.platform.db import read_session
from services.platform.errors import ApprovalRequired, Conflict, PermissionDenied, ValidationFailed
from services.workflow import approvals
from tests.unit.frozen_time import freeze

ORIGINAL_ITEMS = [
    {"description": "ベーシック 月額基本料", "quantity": 1, "unit_price": 3300},
    {"description": "オプション かけ放題", "quantity": 1, "unit_price": 550},
]
CORRECTED_ITEMS = [{"description": "ベーシック 月額基本料", "quantity": 1, "unit_price": 3300}]
REASON = "解約済みのオプションを請求していたため"


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 4, 6))


@pytest.fixture()
def original(world, clock):
    """An issued March invoice: 3,300 + 550 = 3,850, tax 385, total 4,235."""
    contract = world.contract()
    draft = invoices.create_invoice(actor=world.admin, contract_id=contract.id, period="2026-03", items=ORIGINAL_ITEMS)
    issued = invoices.issue_invoice(draft.id, actor=world.admin)
    assert (issued.invoice_no, issued.subtotal, issued.tax, issued.total) == ("INV-202603-000001", 3850, 385, 4235)
    return issued


def _invoice(invoice_id: int) -> Invoice:
    with read_session() as s:
        return s.get(Invoice, invoice_id)


def _items(invoice_id: int) -> list[tuple]:
    with read_session() as s:
        return [(i.description, i.quantity, i.unit_price, i.amount, i.tax_rate_percent) for i in s.exec(
            select(InvoiceItem).where(InvoiceItem.invoice_id == invoice_id).order_by(InvoiceItem.id)).all()]


def _correct(world, invoice_id: int, items=CORRECTED_ITEMS):
    maker, checker = world.actor("accounting"), world.actor("accounting")
    submitted = corrections.request_correction(invoice_id, items, actor=maker, reason=REASON)
    request = submitted.request
    approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)
    with read_session() as s:
        credit = s.exec(select(Invoice).where(Invoice.corrects_invoice_id == invoice_id)).one()
        reissue = s.exec(select(Invoice).where(Invoice.replaces_invoice_id == invoice_id)).one()
    return credit, reissue


def test_a_correction_waits_for_a_second_person_and_never_runs_at_once(world, original):
    maker = world.actor("accounting")

    submitted = corrections.request_correction(original.id, CORRECTED_ITEMS, actor=maker, reason=REASON)

    assert submitted.request is not None and submitted.request.status == "pending"
    with pytest.raises(PermissionDenied, match="自分の申請は承認・却下できません"):
        approvals.approve_request(submitted.request.id, actor=maker, expected_hash=submitted.request.params_hash)
    with pytest.raises(ApprovalRequired):
        corrections.correct_invoice(original.id, actor=maker, items=CORRECTED_ITEMS, reason=REASON)
    with read_session() as s:
        assert s.exec(select(Invoice).where(Invoice.kind == "credit_note")).all() == []


def test_the_credit_note_returns_the_whole_original_and_the_reissue_carries_the_corrected_items(world, original):
    credit, reissue = _correct(world, original.id)

    # the credit note: CN series, the same items, 4,235 returned
    assert (credit.kind, credit.invoice_no, credit.status) == ("credit_note", "CN-202603-000001", "issued")
    assert (credit.subtotal, credit.tax, credit.total) == (3850, 385, 4235)
    assert _items(credit.id) == _items(original.id) == [("ベーシック 月額基本料", 1, 3300, 3300, 10),
                                                         ("オプション かけ放題", 1, 550, 550, 10)]
    # the reissue: the next INV number, 3,300 + tax 330 = 3,630
    assert (reissue.kind, reissue.invoice_no, reissue.status) == ("invoice", "INV-202603-000002", "issued")
    assert (reissue.subtotal, reissue.tax, reissue.total) == (3300, 330, 3630)
    assert _items(reissue.id) == [("ベーシック 月額基本料", 1, 3300, 3300, 10)]
    # linked both ways, the reason kept, issued today with the original's issuer and due date
    assert (credit.corrects_invoice_id, reissue.replaces_invoice_id) == (original.id, original.id)
    assert credit.correction_reason == reissue.correction_reason == REASON
    with read_session() as s:
        [audit] = s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.correct")).all()
    assert audit.reason.startswith(REASON + "（承認申請 #")  # who asked and who approved: in the audit trail
    assert (credit.issue_date, reissue.issue_date) == (date(2026, 4, 6), date(2026, 4, 6))
    assert (credit.due_date, reissue.due_date) == (None, original.due_date)
    assert reissue.issuer_registration_number == original.issuer_registration_number
    # the original is never edited
    again = _invoice(original.id)
    assert (again.status, again.total, _items(again.id)[1][3]) == ("issued", 4235, 550)


def test_the_original_counts_as_settled_by_the_credit_note(world, original):
    credit, reissue = _correct(world, original.id)

    with read_session() as s:
        paid = allocated_amounts(s, [original.id, reissue.id])
        [settlement] = s.exec(select(Payment).where(Payment.method == "credit_note")).all()
    assert paid == {original.id: 4235, reissue.id: 0}
    assert (settlement.amount, settlement.reference, settlement.customer_id) == (
        4235, credit.invoice_no, original.customer_id)


def test_money_paid_on_the_original_moves_to_the_reissue_and_the_excess_stays_as_credit(world, original):
    paid = payments.record_payment(actor=world.admin, amount=4235, method="bank_transfer", payer_name="ﾔﾏﾀﾞ ﾀﾛｳ")
    payments.allocate_payment(paid.id, actor=world.admin, invoice_id=original.id, amount=4235)

    credit, reissue = _correct(world, original.id)

    with read_session() as s:
        allocated = allocated_amounts(s, [original.id, reissue.id])
        credit_left = billing_runs.credit_balances(s, [original.customer_id])
        actions = [e.action for e in s.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "payment", AuditEntry.entity_id == paid.id).order_by(AuditEntry.id))]
    # 3,630 of the 4,235 paid now pays the reissue; 4,235 − 3,630 = 605 stays as the customer's credit
    assert allocated == {original.id: 4235, reissue.id: 3630}
    assert credit_left == {original.customer_id: [(paid.id, 605)]}
    assert actions == ["payment.record", "payment.allocate", "payment.reallocate", "payment.allocate"]


def test_a_correction_counts_in_the_mis_billing_rate(world, original):
    other = invoices.issue_invoice(invoices.create_invoice(
        actor=world.admin, contract_id=world.contract().id, period="2026-03",
        items=[{"description": "月額基本料", "quantity": 1, "unit_price": 2000}]).id, actor=world.admin)
    assert other.invoice_no == "INV-202603-000002"
    assert corrections.misbilling_rate("2026-03") == (0, 2)

    _correct(world, original.id)

    assert corrections.misbilling_rate("2026-03") == (1, 2)  # the reissue is not a second issued bill


def test_an_invoice_is_corrected_once_and_only_when_issued(world, original):
    _correct(world, original.id)
    draft = invoices.create_invoice(actor=world.admin, contract_id=world.contract().id, period="2026-03",
                                    items=CORRECTED_ITEMS)

    with pytest.raises(Conflict, match="既に訂正されています（適格返還請求書 CN-202603-000001）"):
        corrections.preview_correction(original.id, CORRECTED_ITEMS, actor=world.admin)
    with pytest.raises(ValidationFailed) as refused:
        corrections.preview_correction(draft.id, CORRECTED_ITEMS, actor=world.admin)
    assert refused.value.fields == {"invoice_id": "訂正できるのは発行済の請求書だけです。"}


def test_the_preview_states_the_amounts_before_and_after(world, original):
    preview = corrections.preview_correction(original.id, CORRECTED_ITEMS, actor=world.admin)

    assert "INV-202603-000001" in preview["summary"] and "（￥3,630）" in preview["summary"]
    assert [(c["field"], c["before"], c["after"]) for c in preview["changes"]] == [
        ("請求額", "￥4,235", "￥3,630"), ("うち消費税", "￥385", "￥330"), ("明細", "2行", "1行")]


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdfs_of_the_credit_note_and_the_reissue_render_once_and_download_the_same_bytes(world, original):
    credit, reissue = _correct(world, original.id)

    name, credit_pdf = invoice_documents.invoice_pdf_bytes(credit.id, actor=world.admin)
    reissue_name, reissue_pdf = invoice_documents.invoice_pdf_bytes(reissue.id, actor=world.admin)
    _, credit_again = invoice_documents.invoice_pdf_bytes(credit.id, actor=world.admin)
    _, reissue_again = invoice_documents.invoice_pdf_bytes(reissue.id, actor=world.admin)

    assert (name, reissue_name) == ("CN-202603-000001.pdf", "INV-202603-000002.pdf")
    assert credit_pdf.startswith(b"%PDF") and reissue_pdf.startswith(b"%PDF")
    assert (credit_again, reissue_again) == (credit_pdf, reissue_pdf)
    assert "適格返還請求書" in _text(credit_pdf) and "INV-202603-000001" in _text(credit_pdf)
    # the customer reads the requester's reason, not the approval's bookkeeping (request number, staff names)
    assert f"返還等の理由 {REASON}\n" in _text(credit_pdf) and "承認申請" not in _text(credit_pdf)
    assert "担当者" not in _text(reissue_pdf)
    assert "INV-202603-000001" in _text(reissue_pdf) and "INV-202603-000002" in _text(reissue_pdf)
    with read_session() as s:
        stored = s.exec(select(InvoiceDocument).order_by(InvoiceDocument.invoice_id)).all()
    assert [d.invoice_id for d in stored] == [credit.id, reissue.id]
    with read_session() as s:
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.document")).all()) == 2


def test_a_draft_cannot_be_downloaded(world, clock):
    draft = invoices.create_invoice(actor=world.admin, contract_id=world.contract().id, period="2026-03",
                                    items=CORRECTED_ITEMS)

    with pytest.raises(Conflict) as refused:
        invoice_documents.invoice_pdf_bytes(draft.id, actor=world.admin)

    assert refused.value.message == "下書きの請求書はPDFにできません。発行してからダウンロードしてください。"
    with read_session() as s:
        assert s.exec(select(InvoiceDocument)).all() == []
