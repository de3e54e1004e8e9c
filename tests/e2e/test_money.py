"""The money loop in the browser: last month's billing run from draft through review to issue, the issued
invoice's PDF (the same bytes every time, every qualified-invoice item on it), and matching a payment on the
unmatched screen."""

from __future__ import annotations

import io
import re
import time

import pytest
from pypdf import PdfReader
from sqlmodel import col, select

from services.billing.allocation import allocated_amounts
from services.models import BillingRun, Customer, Invoice, PaymentAllocation
from tests.e2e.conftest import query

pytestmark = pytest.mark.e2e


def _wait_for_status(page, text: str, timeout: float = 90) -> None:
    page.wait_for_selector(f"[data-status]:has-text('{text}')", timeout=timeout * 1000)


def test_accounting_runs_last_months_billing_reviews_the_flags_and_issues_it(app_server, staff_page):
    base = app_server["base"]
    page = staff_page("accounting", "desktop")
    page.goto(f"{base}/admin/billing")
    page.click("#start-run", timeout=20000)
    page.wait_for_url(re.compile(r".*/admin/billing/\d+$"), timeout=20000)
    _wait_for_status(page, "下書き確認待ち")  # the worker drafted every billable contract
    run_id = int(page.url.rsplit("/", 1)[1])
    run = query(app_server, lambda s: s.get(BillingRun, run_id))
    assert run.invoice_count > 0 and run.total_amount > 0
    assert f"{run.invoice_count} 件" in page.inner_text("body")

    for _ in range(50):  # every flagged draft is looked at before review
        buttons = page.locator("[data-anomaly]")
        if buttons.count() == 0:
            break
        buttons.first.click()
        page.fill("#anomaly-note", "内容を確認しました")
        page.click("#anomaly-submit")
        page.wait_for_timeout(300)
    page.click("#review-run")
    page.fill("#review-reason", "前月比と要確認を確認")
    page.click("#run-confirm")
    _wait_for_status(page, "確認済（発行待ち）", timeout=20)
    page.click("#issue-run")
    page.click("#run-confirm")
    _wait_for_status(page, "発行済")

    issued = query(app_server, lambda s: s.exec(select(Invoice).where(Invoice.billing_run_id == run_id)).all())
    assert issued and all(i.status == "issued" and i.issuer_registration_number for i in issued)

    page.set_viewport_size({"width": 390, "height": 844})  # the run screen on a phone: no sideways scroll
    page.reload()
    _wait_for_status(page, "発行済", timeout=20)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_issued_invoice_downloads_as_the_same_qualified_invoice_pdf(app_server, staff_page):
    base = app_server["base"]
    page = staff_page("accounting", "desktop")
    invoice = query(app_server, lambda s: s.exec(select(Invoice).where(Invoice.status == "issued",
                                                                         col(Invoice.issuer_registration_number).is_not(None))
                                                  .order_by(Invoice.id.desc())).first())
    page.goto(f"{base}/admin/invoices/{invoice.id}")
    link = page.locator(f"#invoice-pdf[href='/api/invoices/{invoice.id}/pdf']")  # not the last invoice this tab showed
    link.wait_for(timeout=20000)
    first = page.request.get(base + link.get_attribute("href"))
    second = page.request.get(f"{base}/api/invoices/{invoice.id}/pdf")
    assert first.status == 200 and first.headers["content-type"] == "application/pdf"
    assert first.body() == second.body() and first.body().startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(first.body())).pages).replace(" ", "")
    for item in ("請求書（適格請求書）", invoice.invoice_no, "登録番号", invoice.issuer_registration_number,
                 "10%対象", "消費税", f"{invoice.total:,}円"):
        assert item in text, item

    anonymous = page.context.browser.new_context()
    try:  # without a session the file is not served
        assert anonymous.request.get(f"{base}/api/invoices/{invoice.id}/pdf").status == 401
    finally:
        anonymous.close()


def test_a_payment_entered_by_hand_is_matched_from_the_suggestions(app_server, staff_page):
    base = app_server["base"]
    page = staff_page("accounting", "desktop")

    def unpaid(s):
        invoices = s.exec(select(Invoice).where(Invoice.status == "issued", Invoice.kind == "invoice")
                          .order_by(Invoice.id.desc())).all()
        paid = allocated_amounts(s, [i.id for i in invoices])
        invoice = next(i for i in invoices if paid[i.id] == 0)
        return invoice, s.get(Customer, invoice.customer_id)
    invoice, customer = query(app_server, unpaid)

    page.goto(f"{base}/admin/payments")
    page.fill("#amount", str(invoice.total), timeout=20000)
    page.fill("#payer_name", customer.name_kana)  # as the bank would write it, without the invoice number
    page.click("#record-payment")
    card = page.locator(f"[data-invoice='{invoice.id}']").first
    card.wait_for(timeout=20000)
    card.click()
    page.fill("#reason", "振込名義と金額が一致")
    page.click("#match-submit")
    page.wait_for_selector(f"text=請求書 {invoice.invoice_no} に", timeout=20000)

    deadline = time.time() + 10
    while time.time() < deadline:
        allocated = query(app_server, lambda s: s.exec(select(PaymentAllocation).where(
            PaymentAllocation.invoice_id == invoice.id)).all())
        if allocated:
            break
        time.sleep(0.3)
    assert [a.amount for a in allocated] == [invoice.total]
