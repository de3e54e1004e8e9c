"""Maker-checker in the browser: support asks for a suspension, another person approves, it happens once."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlmodel import select

from services.models import AuditEntry, Customer, Line
from tests.e2e.conftest import VIEWPORTS, query

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def active_lines(app_server):
    """Two active lines nobody has touched (one per viewport)."""
    rows = query(app_server, lambda s: s.exec(select(Line.id, Line.msisdn).where(Line.status == "active")
                                              .order_by(Line.id.desc()).limit(2)).all())
    return [{"id": line_id, "msisdn": msisdn} for line_id, msisdn in rows]


def _suspensions(app_server, line_id: int) -> tuple[str, int]:
    return query(app_server, lambda s: (s.get(Line, line_id).status, len(s.exec(select(AuditEntry).where(
        AuditEntry.line_id == line_id, AuditEntry.action == "line.suspend")).all())))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_support_requests_suspension_and_admin_approves_after_reading_the_diff(
        app_server, staff_page, active_lines, viewport):
    base = app_server["base"]
    line = active_lines[0 if viewport == "desktop" else 1]

    maker = staff_page("support", viewport)
    maker.goto(f"{base}/admin/lines/{line['id']}")
    maker.locator("[data-event='suspend']").click()
    summary = maker.locator("#confirm-summary")
    summary.wait_for(timeout=20000)
    assert "を停止します" in summary.inner_text()
    maker.fill("#confirm-reason", "お客様から端末紛失の連絡")
    maker.click("#confirm-submit")
    maker.get_by_text("承認申請 #").first.wait_for(timeout=20000)
    assert _suspensions(app_server, line["id"]) == ("active", 0), "nothing happens before the approval"

    # the maker cannot approve their own request
    maker.goto(f"{base}/admin/approvals")
    own = maker.locator("[data-request]").filter(has_text="お客様から端末紛失の連絡").first
    own.wait_for(timeout=20000)
    assert own.locator("[data-action='approve']").count() == 0

    checker = staff_page("admin", viewport)
    checker.goto(f"{base}/admin/approvals")
    checker.locator("#approval-count").wait_for(timeout=20000)
    card = checker.locator("[data-request]").filter(has_text="お客様から端末紛失の連絡").first
    card.wait_for(timeout=20000)
    assert "利用中" in card.inner_text() and "停止中" in card.inner_text()  # the before -> after diff
    card.locator("[data-action='approve']").click()
    checker.fill("#decision-reason", "本人確認済み")
    checker.click("#decision-submit")
    checker.get_by_text("を承認し、実行しました").wait_for(timeout=20000)

    # 停止処理中 until the worker has called the carrier; then 停止中, and the carrier saw one suspension
    deadline = time.time() + 60
    while _suspensions(app_server, line["id"])[0] != "suspended" and time.time() < deadline:
        time.sleep(0.5)
    assert _suspensions(app_server, line["id"]) == ("suspended", 1)
    carrier_log = httpx.get(f"{app_server['carrier']}/_sandbox/log",
                            params={"operation": "suspend", "msisdn": line["msisdn"].lstrip("+")}).json()
    assert carrier_log["count"] == 1
    checker.goto(f"{base}/admin/lines/{line['id']}")
    checker.locator("#line-status").get_by_text("停止中").wait_for(timeout=20000)
    checker.locator("#line-history").get_by_text("承認申請 #").first.wait_for(timeout=20000)
    checker.screenshot(path=f"/tmp/tsm-e2e-approval-{viewport}.png", full_page=True)
    assert re.search(r"/admin/lines/\d+$", checker.url)

    # every step is in the audit viewer, and the chain verifies intact
    checker.goto(f"{base}/admin/audit")
    checker.select_option("#entity_type", "line")
    checker.fill("#entity_id", str(line["id"]))
    checker.click("#audit-filter")
    checker.locator("#audit-list").get_by_text("回線: 停止").first.wait_for(timeout=20000)
    checker.click("#audit-verify")
    checker.wait_for_selector("#verify-result:has-text('改ざんは検出されませんでした')", timeout=20000)


def test_support_sees_masked_personal_fields_it_is_not_entitled_to(app_server, staff_page):
    customer_id, address, birth = query(app_server, lambda s: s.exec(
        select(Customer.id, Customer.address, Customer.birth_date).where(
            Customer.kind == "individual", Customer.address.is_not(None), Customer.birth_date.is_not(None))
        .limit(1)).first())
    birth = birth.isoformat()
    page = staff_page("support")
    page.goto(f"{app_server['base']}/admin/customers/{customer_id}")
    page.get_by_text("****-**-**").first.wait_for(timeout=20000)
    body = page.inner_text("body")
    assert birth not in body and address not in body
