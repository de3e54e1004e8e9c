"""A support agent on the phone: sign in with password + TOTP, find a line and a customer, read history."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from services.models import AuditEntry, Contract, Customer, Line
from tests.e2e.conftest import VIEWPORTS, open_context, query, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sample(app_server):
    """A line with history and a customer from the seeded ledger."""
    def read(s):
        line = s.exec(select(Line).join(AuditEntry, AuditEntry.line_id == Line.id)
                      .where(AuditEntry.action == "line.suspend").limit(1)).first()
        customer = s.get(Customer, line.customer_id)
        contract = s.exec(select(Contract).where(Contract.status == "active").limit(1)).first()
        return {"contract_id": contract.id, "line_id": line.id, "msisdn": line.msisdn, "customer_id": customer.id,
                "customer_name": customer.name, "kana": customer.name_kana}
    return query(app_server, read)


def _search(page, text: str) -> None:
    page.fill("#global-search", text)
    page.press("#global-search", "Enter")
    page.wait_for_url(re.compile(r".*/admin/search\?q=.*"), timeout=20000)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_support_finds_line_by_other_format_opens_360_and_history(staff_page, sample, viewport):
    page = staff_page("support", viewport)
    context = page.context
    assert "tsm_session" not in page.evaluate("document.cookie"), "the session cookie must be HttpOnly"
    cookie = next(c for c in context.cookies() if c["name"] == "tsm_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # stored as +8190..., typed the way people say it: 090-1234-5678
    national = "0" + sample["msisdn"][3:]
    hyphenated = f"{national[:3]}-{national[3:7]}-{national[7:]}"
    _search(page, hyphenated)
    line_group = page.locator("[data-group='line']")
    line_group.wait_for(timeout=20000)
    line_group.get_by_role("link", name=hyphenated).first.click()
    page.wait_for_url(re.compile(rf".*/admin/lines/{sample['line_id']}$"), timeout=20000)
    page.wait_for_selector("#line-status", timeout=20000)
    history = page.locator("#line-history")
    history.get_by_text("回線: 停止").first.wait_for(timeout=20000)
    assert history.get_by_text("理由:").count() >= 1

    # the customer's 360° view is one click away
    page.get_by_role("link", name=sample["customer_name"]).first.click()
    page.wait_for_url(re.compile(rf".*/admin/customers/{sample['customer_id']}$"), timeout=20000)
    page.locator("#customer-lines").get_by_text(hyphenated).first.wait_for(timeout=20000)

    # a kana fragment finds the customer (typed in hiragana)
    fragment = sample["kana"].replace(" ", "").replace("　", "")[:3]
    hiragana = "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in fragment)
    _search(page, hiragana)
    customers = page.locator("[data-group='customer']")
    customers.wait_for(timeout=20000)
    assert customers.get_by_text(sample["customer_name"]).count() >= 1 or \
        customers.get_by_text("さらに該当があります").count() == 1
    page.screenshot(path=f"/tmp/tsm-e2e-{viewport}.png", full_page=True)


# Records, into window.__sawWatched, whether the name kept in sessionStorage was ever drawn visibly on this page.
_WATCH_FOR_NAME = """
new MutationObserver(() => {
  const name = sessionStorage.getItem('e2e-watch-name');
  if (!name || window.__sawWatched) return;
  const walker = document.createTreeWalker(document.body || document, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (el && node.textContent.includes(name) && el.checkVisibility({visibilityProperty: true})) {
      window.__sawWatched = true;
      return;
    }
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def test_opening_another_customer_never_shows_the_previous_one_meanwhile(app_server, staff_page):
    base = app_server["base"]
    (first_id, first_name), (second_id, second_name) = query(app_server, lambda s: s.exec(
        select(Customer.id, Customer.name).order_by(Customer.id.desc()).limit(2)).all())
    assert first_name not in second_name

    page = staff_page("support")
    page.goto(f"{base}/admin/customers/{first_id}")
    page.get_by_text(first_name).first.wait_for(timeout=20000)
    page.evaluate("name => sessionStorage.setItem('e2e-watch-name', name)", first_name)
    page.add_init_script(_WATCH_FOR_NAME)
    try:
        page.goto(f"{base}/admin/customers/{second_id}")  # the tab's state still holds the first customer
        page.get_by_text(second_name).first.wait_for(timeout=20000)
        assert page.evaluate("window.__sawWatched === true") is False, "the previous customer was shown"
    finally:
        page.evaluate("sessionStorage.removeItem('e2e-watch-name')")


def test_signed_out_visitor_is_sent_to_sign_in(app_server, browser):
    context = open_context(browser)
    page = context.new_page()
    try:
        page.goto(f"{app_server['base']}/admin/lines/1")
        page.wait_for_url(re.compile(r".*/login/?$"), timeout=20000)
    finally:
        context.close()


def test_bad_line_input_gets_messages_next_to_the_fields(app_server, staff_page, sample):
    page = staff_page("sales", "phone")
    page.goto(f"{app_server['base']}/admin/contracts/{sample['contract_id']}")
    page.wait_for_selector("#msisdn", timeout=20000)
    page.fill("#msisdn", "03-1234-5678")
    page.fill("#iccid", "8981100000000000001")
    page.fill("#imei", "352222222222221")
    page.click("#add-line")
    page.wait_for_selector("[data-error='msisdn']", timeout=20000)
    assert "電話番号が正しくありません" in page.inner_text("[data-error='msisdn']")
    assert "チェックディジット" in page.inner_text("[data-error='iccid']")
    assert "チェックディジット" in page.inner_text("[data-error='imei']")
    assert page.url.endswith(f"/admin/contracts/{sample['contract_id']}")


def test_english_switch_and_sign_out_end_the_session(app_server, browser):
    base = app_server["base"]
    context = open_context(browser)
    page = context.new_page()
    try:
        sign_in(page, base, "accounting")
        page.get_by_role("button", name="EN").click()
        page.get_by_role("link", name="Customers").first.wait_for(timeout=20000)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r".*/login/?$"), timeout=20000)
        page.goto(f"{base}/admin/")
        page.wait_for_url(re.compile(r".*/login/?$"), timeout=20000)
    finally:
        context.close()
