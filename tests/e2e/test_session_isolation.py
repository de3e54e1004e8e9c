"""Nothing of a person outlives their session in the page.

An admin opens a customer with every personal field and signs out: a raw websocket client on the tab's
old per-tab token (with no cookie, or with the signed-out cookie) gets none of them, the tab's token is
replaced, and the next person signing in at that tab receives nothing of the first. A session that
expires behaves the same. The app's access log never holds a per-tab token.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from services.models import Customer
from services.models.base import utcnow
from tests.e2e.conftest import _trace, ledger_engine, open_context, sign_in
from tests.e2e.raw_socket import RawClient, text_of

pytestmark = pytest.mark.e2e

PERSONAL_FIELDS = ("address", "birth_date", "id_document_number", "bank_account", "phone", "email")


@pytest.fixture(scope="module")
def customer_id(app_server) -> int:
    """An individual whose record has an address, a birth date, an ID document number and a bank account."""
    engine = ledger_engine(app_server)
    with Session(engine) as s:
        found = s.exec(select(Customer.id).where(
            Customer.kind == "individual", Customer.id_document_number_enc.is_not(None),
            Customer.bank_account_enc.is_not(None), Customer.birth_date.is_not(None),
            Customer.address.is_not(None)).limit(1)).first()
    engine.dispose()
    assert found is not None, "the demo ledger has an individual with every personal field"
    return found


def _listen(page) -> list[str]:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    return frames


def _personal_values(frames: list[str]) -> list[str]:
    """The customer's personal values the admin's page received (unmasked: the admin sees them in full)."""
    values: set[str] = set()
    for frame in frames:
        if not frame.startswith("42/_event,"):
            continue
        for arg in json.loads(frame[len("42/_event,"):])[1:]:
            for name, delta in (arg.get("delta") or {}).items():
                customer = (delta.get("data_rx_state_") or {}).get("customer") if name.endswith("customer_state") else None
                for field in PERSONAL_FIELDS if customer else ():
                    value = str(customer.get(field) or "")
                    if value and "*" not in value:
                        values.update({value, *(part for part in value.split() if len(part) >= 4)})
    return sorted(values)


def _open_customer(page, base: str, customer_id: int) -> list[str]:
    frames = _listen(page)
    page.goto(f"{base}/admin/customers/{customer_id}")
    page.wait_for_selector("#customer-lines", timeout=20000)
    page.wait_for_function("() => document.body.innerText.includes('口座')", timeout=20000)
    values = _personal_values(frames)
    assert len(values) >= 4, values  # address, birth date, document number, bank account at least
    return values


def _session_cookie(context) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies() if c["name"] == "tsm_session")


def _tab_token(page) -> str:
    """The tab's per-tab state token, waiting for the page to have made it."""
    page.wait_for_function("sessionStorage.getItem('token') !== null", timeout=20000)
    return page.evaluate("sessionStorage.getItem('token')")


def _leaks(deltas: list[dict], values: list[str]) -> list[str]:
    carried = text_of(deltas)
    return [value for value in values if value in carried]


def _admin_views_a_customer_and_signs_out(browser, base: str, customer_id: int, viewport: str):
    """(page, the customer's personal values the page received, the tab's token and cookie before sign-out)."""
    page = open_context(browser, viewport, locale="ja-JP").new_page()
    sign_in(page, base, "admin")
    values = _open_customer(page, base, customer_id)
    old_token, old_cookie = _tab_token(page), _session_cookie(page.context)
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/login/?$"), timeout=20000)
    page.wait_for_selector("#email:not([disabled])", timeout=20000)
    return page, values, old_token, old_cookie


def test_after_sign_out_the_old_tab_token_gives_a_raw_client_no_personal_data(app_server, browser, customer_id):
    base = app_server["base"]
    page, values, old_token, old_cookie = _admin_views_a_customer_and_signs_out(browser, base, customer_id, "desktop")
    new_token = _tab_token(page)

    assert new_token and new_token != old_token  # the per-tab token was replaced
    with RawClient(base, old_token) as anonymous:
        assert _leaks(anonymous.hydrate(f"/admin/customers/{customer_id}/", {"customer_id": str(customer_id)}),
                      values) == []
    with RawClient(base, old_token, old_cookie) as replay:  # the signed-out session's cookie is worth nothing
        deltas = replay.hydrate(f"/admin/customers/{customer_id}/", {"customer_id": str(customer_id)})
        assert _leaks(deltas, values) == []
    page.context.close()


def test_the_next_person_at_the_same_tab_sees_nothing_of_the_first(app_server, browser, customer_id):
    base = app_server["base"]
    page, values, _token, _cookie = _admin_views_a_customer_and_signs_out(browser, base, customer_id, "phone")

    after = _listen(page)
    sign_in(page, base, "sales")  # sales sees masks only, and nothing the admin had open
    page.goto(f"{base}/admin/approvals")
    page.wait_for_selector("#signed-in-user:has-text('sales@demo.example')", timeout=20000)

    assert [value for value in values if any(value in frame for frame in after)] == []
    page.context.close()


def test_an_expired_session_leaves_nothing_in_the_tab(app_server, browser, customer_id):
    base = app_server["base"]
    context = open_context(browser, "desktop", locale="ja-JP")
    page = context.new_page()
    sign_in(page, base, "support")
    frames = _listen(page)
    page.goto(f"{base}/admin/customers/{customer_id}")
    page.wait_for_selector("#customer-lines", timeout=20000)
    token, cookie = _tab_token(page), _session_cookie(context)
    shown = _personal_values(frames)  # support sees the phone and e-mail in full
    assert shown

    engine = ledger_engine(app_server)
    with engine.begin() as conn:  # this session runs out (as after 12 hours)
        conn.execute(text("UPDATE staff_session SET expires_at = :past WHERE token_hash = :digest"),
                     {"past": utcnow() - timedelta(minutes=1),
                      "digest": hashlib.sha256(cookie.split("=", 1)[1].encode()).hexdigest()})
    engine.dispose()

    page.locator("a[href='/admin/lines']").first.click()  # the tab's next step sends its person to sign in
    page.wait_for_url(re.compile(r".*/login/?.*"), timeout=20000)
    context.close()  # the tab goes away; its token stays in the server's state store

    with RawClient(base, token, cookie) as raw:
        assert _leaks(raw.hydrate(f"/admin/customers/{customer_id}/", {"customer_id": str(customer_id)}),
                      shown) == []


def test_the_access_log_never_holds_a_per_tab_token(app_server, browser):
    context = open_context(browser, "desktop")
    page = context.new_page()
    page.goto(f"{app_server['base']}/login")
    page.wait_for_selector("#email:not([disabled])", timeout=20000)
    token = _tab_token(page)
    context.close()

    log = _trace["app_log"].read_text(encoding="utf-8", errors="replace")
    assert "access" in log and "WS /_event/" in log
    assert token not in log and "token=" not in log
