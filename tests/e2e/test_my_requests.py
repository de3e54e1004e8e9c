"""Customer requests in the browser on a phone (390×844): the demo 法人管理者 opens a line from the home page and
reports a lost phone; nothing happens to the line yet, the request shows as a timeline, and staff (support) find it
first in the approval queue, marked 至急, with the customer named as the one who asked. Support approve it, the
carrier suspends the line through the outbox, the customer is told, and the notice's link — opened signed out, on a
phone — lands on the line page at that request after signing in."""

from __future__ import annotations

import re
import time

import pytest
from sqlmodel import Session, col, select

from demo.customers import DEMO_CUSTOMERS
from services.models import ApprovalRequest, CustomerUser, CustomerUserLine, Line, Notification
from tests.e2e.conftest import open_context, query, sign_in_customer
from tests.e2e.test_my import _no_sideways_scroll

pytestmark = pytest.mark.e2e


def _a_free_line(s: Session) -> tuple[int, int]:
    """(customer id, line id): an active line of the demo company that is not the 利用者's and has no request."""
    admin = s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()
    theirs = select(CustomerUserLine.line_id)
    asked = select(ApprovalRequest.line_id).where(ApprovalRequest.status == "pending",
                                                  col(ApprovalRequest.line_id).is_not(None))
    line = s.exec(select(Line).where(Line.customer_id == admin.customer_id, Line.status == "active",
                                     col(Line.id).not_in(theirs), col(Line.id).not_in(asked))
                  .order_by(Line.id.desc())).first()
    return admin.customer_id, line.id


def _request_of(line_id: int):
    return lambda s: s.exec(select(ApprovalRequest).where(ApprovalRequest.line_id == line_id)
                            .order_by(col(ApprovalRequest.id).desc())).first()


def test_a_lost_phone_reported_on_a_phone_is_approved_by_support_suspended_and_the_notice_opens_the_request(app_server, browser, staff_page):
    base = app_server["base"]
    _, line_id = query(app_server, _a_free_line)
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/my/login")
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)
        page.click(f"#open-line-{line_id}", timeout=20000)
        page.wait_for_url(re.compile(rf".*/my/lines/{line_id}/?$"), timeout=20000)
        page.wait_for_selector("#request-actions button:not([disabled])", timeout=20000)
        _no_sideways_scroll(page)
        page.get_by_text("この画面でできないこと").wait_for(timeout=20000)  # said plainly, with where to ask
        assert page.locator("#ask-support").count() == 1

        page.click("#request-suspend")
        page.get_by_label("紛失").check(timeout=20000)  # each reason's label is tied to its radio
        page.get_by_label("詳しい内容").fill("電車の中に置き忘れました")
        _no_sideways_scroll(page)
        for target in ("#request-suspend", "#request-submit", "label[for='reason-lost']"):
            box = page.locator(target).bounding_box()
            assert box["height"] >= 44, target
        page.click("#request-submit")
        page.get_by_text("利用停止のお申し込みを受け付けました（受付番号 #").wait_for(timeout=20000)
        card = page.locator("[data-kind='suspend']").first
        card.wait_for(timeout=20000)
        assert card.get_attribute("data-status") == "pending" and "至急" in card.inner_text()
        assert card.locator("[data-step='approval'][data-state='current']").count() == 1
        _no_sideways_scroll(page)
    finally:
        context.close()

    request = query(app_server, _request_of(line_id))
    assert request.urgent and request.status == "pending" and request.requested_by_customer_user_id is not None
    assert query(app_server, lambda s: s.get(Line, line_id).status) == "active"  # nothing runs before approval

    staff = staff_page("support")
    staff.goto(f"{base}/admin/approvals")
    # the page first shows the queue as this tab last loaded it: wait for the queue read now, then check its order
    staff.locator(f"[data-request='{request.id}']").wait_for(timeout=20000)
    first = staff.locator("[data-request]").first
    assert first.get_attribute("data-request") == str(request.id)
    assert first.locator("[data-urgent]").inner_text() == "至急"
    assert "お客様 法人管理者 デモ" in first.inner_text() and "紛失: 電車の中に置き忘れました" in first.inner_text()

    first.locator("[data-action='approve']").click()
    staff.fill("#decision-reason", "お客様ご本人からの紛失連絡を確認")
    staff.click("#decision-submit")
    staff.get_by_text("を承認し、実行しました").wait_for(timeout=20000)
    deadline = time.time() + 60  # the worker calls the carrier; its result suspends the line
    while query(app_server, lambda s: s.get(Line, line_id).status) != "suspended" and time.time() < deadline:
        time.sleep(0.5)
    assert query(app_server, lambda s: s.get(Line, line_id).status) == "suspended"

    link = query(app_server, lambda s: s.exec(select(Notification.link).where(
        Notification.kind == "request.executed", Notification.channel == "in_app",
        col(Notification.link).endswith(f"/go/line/{line_id}?request=approval-{request.id}"))).one())
    context = open_context(browser, "phone", locale="ja-JP")  # a new browser: the notice opened signed out
    try:
        page = context.new_page()
        page.goto(base + link[link.index("/go/"):])
        page.wait_for_url(re.compile(r".*/my/login/?\?next=%2Fmy%2Flines%2F"), timeout=20000)
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(rf".*/my/lines/{line_id}/?\?request=approval-{request.id}$"), timeout=20000)
        card = page.locator("[data-request]").first
        card.wait_for(timeout=20000)
        assert card.get_attribute("data-request") == f"approval-{request.id}"
        assert card.get_attribute("data-focused") == "true" and "このお申し込み" in card.inner_text()
        assert card.get_attribute("data-status") == "done"
        assert card.locator("[data-step='done'][data-state='done']").count() == 1
        page.get_by_text("停止中").first.wait_for(timeout=20000)
        _no_sideways_scroll(page)
    finally:
        context.close()
