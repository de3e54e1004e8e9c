"""The customer app (/my) in the browser on a phone (390×844): a bill's link opened signed out lands on that
bill after sign-in with the authenticator, the bill's PDF is the stored document, the home page charts the
month's data; a 利用者 sees only their line and no bills; staff and customer sessions never open each other's
pages; signing out ends the session."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlmodel import Session, select

from demo.customers import DEMO_CUSTOMERS
from services.models import CustomerUser, Invoice, Line
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390


def _company(s: Session) -> tuple[int, list[Invoice]]:
    admin = s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()
    bills = s.exec(select(Invoice).where(Invoice.customer_id == admin.customer_id, Invoice.status == "issued")
                   .order_by(Invoice.id.desc())).all()
    return admin.customer_id, list(bills)


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def test_a_bill_link_opened_signed_out_lands_on_that_bill_after_sign_in_and_its_pdf_downloads(app_server, browser):
    base = app_server["base"]
    _, bills = query(app_server, _company)
    bill = bills[0]
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/go/invoice/{bill.id}")  # the link a notice carries
        page.wait_for_url(re.compile(rf".*/my/login/?\?next=%2Fmy%2Fbills%2F{bill.id}$"), timeout=20000)
        _no_sideways_scroll(page)
        assert page.locator("link[rel=manifest]").count() == 1  # it can sit on the home screen
        assert page.request.get(f"{base}/manifest.webmanifest").json()["start_url"] == "/my"
        assert page.request.get(f"{base}/icon.svg").status == 200
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(rf".*/my/bills/{bill.id}/?$"), timeout=20000)
        page.wait_for_selector(f"text={bill.invoice_no}", timeout=20000)
        _no_sideways_scroll(page)

        href = page.locator("#bill-pdf").get_attribute("href")
        first, second = page.request.get(base + href), page.request.get(base + href)
        assert first.status == 200 and first.headers["content-type"] == "application/pdf"
        assert first.body() == second.body() and first.body().startswith(b"%PDF")
        other = query(app_server, lambda s: s.exec(select(Invoice).where(
            Invoice.customer_id != bill.customer_id, Invoice.status == "issued")).first())
        assert page.request.get(f"{base}/api/my/invoices/{other.id}/pdf").status == 404  # another company's
        assert page.request.get(f"{base}/api/invoices/{bill.id}/pdf").status == 401  # the staff route: no
        anonymous = browser.new_context()
        try:
            assert anonymous.request.get(base + href).status == 401
        finally:
            anonymous.close()

        page.click("#tab-home")
        page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)
        page.wait_for_selector(".usage-chart svg", timeout=20000)  # the month's data, day by day
        _no_sideways_scroll(page)
        for tab in ("#tab-home", "#tab-bills", "#tab-notices", "#tab-settings"):
            box = page.locator(tab).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, tab

        page.click("#tab-settings")
        page.wait_for_selector("#devices :text('この端末')", timeout=20000)
        page.click("#my-sign-out")
        page.wait_for_url(re.compile(r".*/my/login/?$"), timeout=20000)
        page.goto(f"{base}/my/bills")
        page.wait_for_url(re.compile(r".*/my/login/?\?next=%2Fmy%2Fbills$"), timeout=20000)
    finally:
        context.close()


def test_a_user_sees_only_their_line_and_no_bills(app_server, browser):
    base = app_server["base"]
    customer_id, bills = query(app_server, _company)
    lines = query(app_server, lambda s: s.exec(select(Line).where(Line.customer_id == customer_id,
                                                                   Line.status == "active")).all())
    assert len(lines) >= 2
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/my/login")
        sign_in_customer(page, app_server, "user")
        page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)
        page.wait_for_selector("[data-usage]", timeout=20000)
        assert page.locator("[data-usage]").count() == 1  # one of the company's lines: the one assigned
        page.click("#tab-bills")
        page.wait_for_selector("text=表示できる請求はありません。", timeout=20000)
        page.goto(f"{base}/my/bills/{bills[0].id}")
        page.wait_for_selector("[role=alert]", timeout=20000)
        assert bills[0].invoice_no not in page.inner_text("body")
        _no_sideways_scroll(page)
    finally:
        context.close()


def test_a_staff_session_does_not_open_the_customer_app(app_server, staff_page):
    base = app_server["base"]
    page = staff_page("support", "desktop")
    page.goto(f"{base}/my/bills")
    page.wait_for_url(re.compile(r".*/my/login/?\?next=%2Fmy%2Fbills$"), timeout=20000)
    page.goto(f"{base}/admin")  # and the staff session is still there
    page.wait_for_selector("#signed-in-user", timeout=20000)


def test_staff_invite_a_user_who_accepts_on_a_phone_sets_up_the_authenticator_and_sees_their_line(
        app_server, staff_page, browser):
    import json

    from services.models import ExternalOperation

    base = app_server["base"]
    customer_id, _ = query(app_server, _company)
    line = query(app_server, lambda s: s.exec(select(Line).where(Line.customer_id == customer_id,
                                                                  Line.status == "active").order_by(Line.id)).all()[-1])
    page = staff_page("sales", "desktop")
    page.goto(f"{base}/admin/customers/{customer_id}")
    page.click("#invite-toggle", timeout=20000)
    page.fill("#name", "招待 太郎")
    page.fill("#email", "invited.taro@example.jp")
    page.check(f"#line_{line.id}")
    page.click("#invite-submit")
    page.wait_for_selector("[data-person='invited.taro@example.jp']", timeout=20000)

    def link(s):
        ops = s.exec(select(ExternalOperation).where(ExternalOperation.provider == "messaging")
                     .order_by(ExternalOperation.id.desc())).all()
        text = next(json.loads(op.payload_json)["text"] for op in ops
                    if json.loads(op.payload_json).get("to") == "invited.taro@example.jp")
        return re.search(r"/go/invitation/[A-Za-z0-9_-]+", text).group(0)
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        phone = context.new_page()
        phone.goto(base + query(app_server, link))
        phone.wait_for_selector("#invite-summary", timeout=20000)
        phone.get_by_label("新しいパスワード", exact=True).fill("password123")  # a common one is refused
        phone.get_by_label("新しいパスワード（確認）").fill("password123")
        phone.click("#accept-invitation")
        phone.wait_for_selector("[role=alert]", timeout=20000)
        phone.get_by_label("新しいパスワード", exact=True).fill("a quiet river under the bridge")
        phone.get_by_label("新しいパスワード（確認）").fill("a quiet river under the bridge")
        phone.click("#accept-invitation")
        secret = phone.locator("#totp-secret").inner_text(timeout=20000).strip()
        phone.fill("#code", pyotp.TOTP(secret).now())
        phone.click("#my-verify")
        phone.wait_for_selector("#recovery-codes code", timeout=20000)
        assert phone.locator("#recovery-codes code").count() >= 8
        phone.click("#my-continue")
        phone.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)
        phone.wait_for_selector(f"[data-usage='{line.id}']", timeout=20000)
        assert phone.locator("[data-usage]").count() == 1
        _no_sideways_scroll(phone)
    finally:
        context.close()
