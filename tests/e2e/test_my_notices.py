"""The notification centre on a phone (390×844): a shipment notice's link opened signed out lands on the tracking
page after sign-in; the notice shows its next action as its button, and opening it drops the unread count; another
company's shipment is not found; 通知の設定 has a labelled switch per topic and channel, large enough to tap."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from demo.customers import DEMO_CUSTOMERS
from services.models import CustomerUser, Line, Notification, NotificationPreference, Shipment
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390


def _shipments_and_notice(base: str):
    """A SIM on its way to the demo company (told by an unread in-app notice) and one to another company."""

    def make(s: Session) -> tuple[int, int, int, int]:
        admin = s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()
        line = s.exec(select(Line).where(Line.customer_id == admin.customer_id).order_by(Line.id)).first()
        other = s.exec(select(Line).where(Line.customer_id != admin.customer_id).order_by(Line.id)).first()
        mine = Shipment(customer_id=admin.customer_id, line_id=line.id, item_type="sim", status="in_transit",
                        tracking_number="E2E000111222")
        theirs = Shipment(customer_id=other.customer_id, line_id=other.id, item_type="sim", status="in_transit",
                          tracking_number="E2E999888777")
        s.add_all([mine, theirs])
        s.flush()
        notice = Notification(customer_id=admin.customer_id, channel="in_app", kind="shipment.accepted",
                              title="SIMを発送しました", body="お問い合わせ番号（追跡番号）: E2E000111222",
                              link=f"{base}/go/shipment/{mine.id}")
        s.add(notice)
        s.commit()
        return admin.customer_id, mine.id, theirs.id, notice.id
    return make


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def _unread(page) -> int:
    badge = page.locator("#unread-count")
    return int(badge.inner_text()) if badge.count() else 0


def test_a_notice_link_opens_its_page_after_sign_in_and_opening_it_drops_the_unread_count(app_server, browser):
    base = app_server["base"]
    customer_id, shipment_id, foreign_id, notice_id = query(app_server, _shipments_and_notice(base))
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/go/shipment/{shipment_id}")  # the link the notice's mail carries
        page.wait_for_url(re.compile(rf".*/my/login/?\?next=%2Fmy%2Fshipments%2F{shipment_id}$"), timeout=20000)
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(rf".*/my/shipments/{shipment_id}/?$"), timeout=20000)
        page.wait_for_selector("#tracking-number:has-text('E2E000111222')", timeout=20000)
        assert page.locator("[data-step][data-reached='true']").count() == 4  # requested … in transit
        assert page.locator("[data-step='delivered'][data-reached='false']").count() == 1
        _no_sideways_scroll(page)
        page.wait_for_selector("#unread-count", timeout=20000)
        before = _unread(page)
        assert before >= 1

        page.goto(f"{base}/my/shipments/{foreign_id}")  # another company's: not found, nothing of it shown
        page.wait_for_selector("[role=alert]:has-text('配送状況が見つかりません')", timeout=20000)
        assert "E2E999888777" not in page.inner_text("body")

        page.click("#tab-notices")
        button = page.locator(f"#open-notice-{notice_id}")
        button.wait_for(timeout=20000)
        assert button.inner_text().strip() == "配送状況を見る"  # the next action, as the button says
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] <= PHONE
        _no_sideways_scroll(page)
        button.click()
        page.wait_for_url(re.compile(rf".*/my/shipments/{shipment_id}/?$"), timeout=20000)
        page.wait_for_selector("#tracking-number:has-text('E2E000111222')", timeout=20000)
        page.wait_for_function(
            "n => (document.getElementById('unread-count')?.innerText ?? '0') === String(n)", arg=before - 1,
            timeout=20000)
        read = query(app_server, lambda s: s.get(Notification, notice_id).read_at)
        assert read is not None

        page.click("#tab-settings")
        page.wait_for_selector("#notice-preferences [data-topic='usage']", timeout=20000)
        switches = page.get_by_role("switch", name="メール")
        assert switches.count() == 4 and page.get_by_role("switch", name="LINE").count() == 4  # labels tied
        target = page.locator("label:has(#pref-usage-mail)")
        assert target.bounding_box()["height"] >= 44
        assert page.locator("#pref-usage-mail").get_attribute("aria-checked") == "true"
        target.click()
        page.wait_for_selector("text=通知の設定を保存しました。", timeout=20000)
        page.wait_for_function("document.getElementById('pref-usage-mail').getAttribute('aria-checked') === 'false'",
                               timeout=20000)
        _no_sideways_scroll(page)
        kept = query(app_server, lambda s: [(p.topic, p.channel, p.enabled) for p in s.exec(
            select(NotificationPreference).where(NotificationPreference.customer_id == customer_id)).all()])
        assert kept == [("usage", "mail", False)]
        page.locator("#pref-usage-mail").click()  # back on: the demo company keeps its mail
        page.wait_for_function("document.getElementById('pref-usage-mail').getAttribute('aria-checked') === 'true'",
                               timeout=20000)
    finally:
        context.close()
