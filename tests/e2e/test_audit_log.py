"""An auditor in the browser: the verifier says intact, then names an entry edited in the database
and links to it; accounting filters the log and downloads it as CSV; support cannot verify or export."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.e2e.conftest import VIEWPORTS, ledger_engine

pytestmark = pytest.mark.e2e

TAMPERED_ID = 10


def _open_audit(page, base: str) -> None:
    page.goto(f"{base}/admin/audit")
    page.wait_for_selector("[data-entry-id]", timeout=20000)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_admin_verifier_reports_intact_then_the_entry_edited_in_the_database(staff_page, app_server, viewport):
    page = staff_page("admin", viewport)
    _open_audit(page, app_server["base"])
    page.click("#audit-verify")
    page.wait_for_selector("#verify-result:has-text('改ざんは検出されませんでした')", timeout=20000)

    engine = ledger_engine(app_server)
    with engine.connect() as conn:
        original = conn.execute(text("SELECT reason FROM audit_entry WHERE id = :i"), {"i": TAMPERED_ID}).scalar()
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET reason = '書き換えられた理由' WHERE id = :i"), {"i": TAMPERED_ID})
        page.click("#audit-verify")
        page.wait_for_selector(f"#verify-result:has-text('監査ログ #{TAMPERED_ID} で改ざんを検出しました')", timeout=20000)
        page.get_by_role("link", name=f"監査ログ #{TAMPERED_ID} とそれ以前を表示").click()
        page.wait_for_url(re.compile(rf".*/admin/audit\?up_to_id={TAMPERED_ID}$"), timeout=20000)
        page.wait_for_selector(f"[data-entry-id='{TAMPERED_ID}']:has-text('書き換えられた理由')", timeout=20000)
        assert page.locator("[data-entry-id]").first.get_attribute("data-entry-id") == str(TAMPERED_ID)
        assert page.locator("#verify-result").is_visible()  # the report stays next to the entry it names
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET reason = :r WHERE id = :i"), {"r": original, "i": TAMPERED_ID})
        engine.dispose()
    page.click("#audit-verify")
    page.wait_for_selector("#verify-result:has-text('改ざんは検出されませんでした')", timeout=20000)


def test_accounting_filters_by_entity_and_downloads_csv(staff_page, app_server):
    page = staff_page("accounting")
    _open_audit(page, app_server["base"])
    assert page.locator("#audit-verify").count() == 0
    page.select_option("#entity_type", "line")
    page.click("#audit-filter")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-entry-id]')].every(r => r.innerText.includes('回線 #'))",
        timeout=20000)
    with page.expect_download(timeout=20000) as info:
        page.click("#audit-export")
    download = info.value
    assert download.suggested_filename == "audit.csv"
    with open(download.path(), encoding="utf-8") as f:
        content = f.read()
    assert content.startswith("\ufeff番号,日時（日本時間）")
    lines = content.strip().splitlines()[1:]
    assert lines and all(",回線," in row for row in lines)
    assert not re.search(r"\+81\d{9,10}|0[789]0-\d{4}-\d{4}", content)  # phone numbers are masked for accounting


def test_support_reads_the_log_without_verify_or_export(staff_page, app_server):
    page = staff_page("support")
    _open_audit(page, app_server["base"])
    assert page.locator("#audit-verify").count() == 0 and page.locator("#audit-export").count() == 0
