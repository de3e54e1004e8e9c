"""External systems in the browser: a card charge, a SIM shipment, a daily comparison run again and an
outage reported by the monitoring provider."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from services.models import Invoice, Line, Payment, PaymentAllocation, ReconciliationRun, Shipment
from services.platform.clock import today_in_tokyo
from services.platform.identifiers import customer_code
from tests.e2e.conftest import query

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def unpaid_invoice(app_server) -> dict:
    """An issued invoice with nothing allocated to it yet."""
    def find(s):
        paid = select(PaymentAllocation.invoice_id)
        invoice = s.exec(select(Invoice).where(Invoice.status == "issued", col(Invoice.id).not_in(paid))
                         .order_by(Invoice.id.desc())).first()
        return {"id": invoice.id, "invoice_no": invoice.invoice_no, "customer_ref": customer_code(invoice.customer_id)}
    return query(app_server, find)


def _card_payments(app_server, invoice_id: int) -> int:
    return query(app_server, lambda s: s.exec(
        select(func.count(Payment.id)).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(Payment.method == "card", PaymentAllocation.invoice_id == invoice_id)).one())


def test_accounting_charges_an_invoice_by_card_and_it_is_paid_once(app_server, staff_page, unpaid_invoice):
    base = app_server["base"]
    page = staff_page("accounting", "desktop")
    page.goto(f"{base}/admin/invoices/{unpaid_invoice['id']}")
    page.click("#invoice-charge-card")
    summary = page.locator("#confirm-summary")
    summary.wait_for(timeout=20000)
    assert "クレジットカードに請求します" in summary.inner_text()
    page.fill("#confirm-reason", "お客様からカード払いの依頼")
    page.click("#confirm-submit")

    deadline = time.time() + 60
    while _card_payments(app_server, unpaid_invoice["id"]) == 0 and time.time() < deadline:
        time.sleep(0.5)
    assert _card_payments(app_server, unpaid_invoice["id"]) == 1
    charges = httpx.get(f"{app_server['payment']}/_sandbox/log",
                        params={"operation": "charge", "customer_ref": unpaid_invoice["customer_ref"]}).json()
    assert charges["count"] == 1

    page.reload()
    page.locator("#invoice-external-operations").get_by_text("成功").first.wait_for(timeout=20000)
    page.get_by_text("入金済").first.wait_for(timeout=20000)
    page.screenshot(path="/tmp/tsm-e2e-card-charge.png", full_page=True)


def test_support_runs_the_carrier_report_comparison_again_and_sees_the_run(app_server, staff_page):
    base = app_server["base"]
    page = staff_page("support", "desktop")
    page.goto(f"{base}/admin/review")
    section = page.locator("#daily-reconciliation")
    section.wait_for(timeout=20000)
    page.select_option("#rerun-source", "carrier_lines")
    page.fill("#rerun-date", today_in_tokyo().isoformat())  # yesterday's run is already there (worker start)
    page.click("#rerun-ask")
    page.locator("#rerun-summary").wait_for(timeout=20000)
    page.fill("#rerun-reason", "キャリアの障害明けに確認")
    page.click("#rerun-submit")
    today = today_in_tokyo()
    section.get_by_text(f"キャリア回線レポート {today:%Y/%m/%d} の再突合を受け付けました").wait_for(timeout=20000)
    todays_run = section.locator("tr", has_text=f"{today:%Y-%m-%d}").filter(has_text="キャリア回線レポート")
    deadline = time.time() + 60
    while time.time() < deadline and not todays_run.filter(has_text="完了").count():
        page.click("#runs-refresh")  # the worker runs it in the background
        page.wait_for_timeout(1000)
    run = query(app_server, lambda s: s.exec(select(ReconciliationRun).where(
        ReconciliationRun.source == "carrier_lines", ReconciliationRun.business_date == today)).first())
    assert run is not None and run.status == "completed" and run.rows_checked > 0
    todays_run.filter(has_text="完了").wait_for(timeout=5000)
    section.get_by_text(f"キャリア回線レポート {today:%Y/%m/%d}: 突合しました").wait_for(timeout=5000)
    page.screenshot(path="/tmp/tsm-e2e-daily-reconciliation.png", full_page=True)


def test_support_sends_a_sim_and_sees_it_delivered_with_its_tracking_number(app_server, staff_page):
    def customer_with_a_sim_line(s):
        line = s.exec(select(Line).where(Line.status == "active", col(Line.sim_card_id).is_not(None))
                      .order_by(Line.id)).first()
        return {"customer_id": line.customer_id, "line_id": line.id}
    target = query(app_server, customer_with_a_sim_line)
    page = staff_page("support", "desktop")
    page.goto(f"{app_server['base']}/admin/customers/{target['customer_id']}")
    page.locator(f"[data-ship-line='{target['line_id']}']").click()
    summary = page.locator("#confirm-summary")
    summary.wait_for(timeout=20000)
    assert "発送するよう配送業者に依頼します" in summary.inner_text()
    page.fill("#confirm-reason", "SIMカードの再送依頼")
    page.click("#confirm-submit")

    deadline = time.time() + 60
    shipment = None
    while time.time() < deadline:
        shipment = query(app_server, lambda s: s.exec(select(Shipment).where(
            Shipment.line_id == target["line_id"])).first())
        if shipment is not None and shipment.status == "delivered":
            break
        time.sleep(0.5)
    assert shipment is not None and shipment.status == "delivered" and shipment.tracking_number
    page.reload()
    shipments = page.locator("#customer-shipments")
    shipments.get_by_text("配達完了").first.wait_for(timeout=20000)
    assert shipment.tracking_number in shipments.inner_text()
    page.screenshot(path="/tmp/tsm-e2e-shipment.png", full_page=True)


def test_an_outage_reported_by_monitoring_shows_on_staff_pages_until_it_is_resolved(app_server, staff_page):
    base, monitoring = app_server["base"], app_server["monitoring"]
    outage = httpx.post(f"{monitoring}/_sandbox/events", json={
        "kind": "outage", "title": "東京都の一部でデータ通信がしにくい状況", "areas": ["東京都"]}, timeout=10).json()
    page = staff_page("accounting", "phone")
    banner = page.locator("#incidents")

    deadline = time.time() + 30
    while time.time() < deadline and not banner.get_by_text("東京都の一部でデータ通信がしにくい状況").count():
        page.goto(f"{base}/admin")  # the webhook is processed by a worker a moment later
        page.locator("fieldset:not([disabled])").first.wait_for(timeout=20000)  # the page has loaded its data
    banner.get_by_text("障害（調査中）").wait_for(timeout=5000)
    page.screenshot(path="/tmp/tsm-e2e-incident.png", full_page=True)

    httpx.post(f"{monitoring}/_sandbox/events/{outage['id']}", json={"status": "resolved"}, timeout=10)
    deadline = time.time() + 30
    while time.time() < deadline and banner.count():
        page.goto(f"{base}/admin/audit")
        page.locator("fieldset:not([disabled])").first.wait_for(timeout=20000)  # the page has loaded its data
    assert banner.count() == 0
