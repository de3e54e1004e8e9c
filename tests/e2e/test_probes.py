"""The probes an attacker and an auditor ran against a fresh app, kept as tests on both running modes.

HTTP and a raw websocket client where the browser cannot reach: forged webhooks, a deeply nested body,
the security headers, anonymous and forged events; in the browser: a single line's termination waits
for a second person.
"""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest
from sqlmodel import select

from services.integrations.http import SIGNATURE_HEADER, sign
from services.models import AuditEntry, InboundEvent, Line
from services.platform import installation_secrets
from state.admin.customers import CustomerState
from state.admin.lines import LineState
from state.admin.staff import StaffState
from state.feedback import NOT_OFFERED
from tests.e2e.conftest import open_context, query, sign_in
from tests.e2e.raw_socket import RawClient, handler_name, text_of

pytestmark = pytest.mark.e2e


def _webhook(base: str, body: bytes, secret: str, provider: str = "carrier") -> httpx.Response:
    return httpx.post(f"{base}/api/webhooks/{provider}", content=body, timeout=20,
                      headers={"content-type": "application/json", SIGNATURE_HEADER: sign(body, secret)})


def _stored(app_server, event_id: str) -> int:
    return query(app_server, lambda s: len(s.exec(select(InboundEvent).where(InboundEvent.event_id == event_id)).all()))


def test_a_webhook_signed_with_any_secret_not_generated_for_this_installation_gets_401(app_server):
    event_id = f"evt_forged_{secrets.token_hex(4)}"
    body = json.dumps({"id": event_id, "type": "line.operation.completed",
                       "data": {"idempotency_key": "nobody", "result": "succeeded"}}).encode()

    for forged in ("sandbox-dev-webhook-secret", secrets.token_urlsafe(32), installation_secrets.webhook_secret("kyc")):
        assert _webhook(app_server["base"], body, forged).status_code == 401
    assert _stored(app_server, event_id) == 0
    assert _webhook(app_server["base"], body, installation_secrets.webhook_secret("carrier")).status_code == 200
    assert _stored(app_server, event_id) == 1


def test_a_signed_body_nested_100000_levels_deep_gets_400_not_an_error_page(app_server):
    body = b'{"id": "evt_deep", "type": "x", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = _webhook(app_server["base"], body, installation_secrets.webhook_secret("carrier"))

    assert response.status_code == 400 and response.json()["error"] == "too_deep"
    assert _stored(app_server, "evt_deep") == 0


@pytest.mark.parametrize("body,status", [
    (b'{"id": "evt_nul\\u0000", "type": "x"}', 400),   # a NUL the ledger's database could not store
    (b"\xff\xfe{}", 400),                            # not UTF-8
    (b"[1, 2, 3]", 400),                             # JSON, but not an event
])
def test_bad_webhook_bodies_get_4xx_on_the_running_app(app_server, body, status):
    assert _webhook(app_server["base"], body, installation_secrets.webhook_secret("carrier")).status_code == status


def test_a_huge_body_gets_413_before_it_is_read(app_server):
    response = httpx.post(f"{app_server['base']}/api/webhooks/carrier", content=b"x" * 2_000_000, timeout=20,
                          headers={"content-type": "application/json"})

    assert response.status_code == 413


def test_pages_and_api_answers_carry_the_security_headers(app_server):
    for path in ("/login", "/admin/", "/api/auth/complete?ticket=x"):
        response = httpx.get(app_server["base"] + path, timeout=20)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert httpx.post(app_server["base"] + "/_upload", timeout=20).status_code == 404  # no uploads in this app


def test_an_anonymous_raw_client_gets_no_data_from_any_guarded_handler(app_server):
    base = app_server["base"]
    with RawClient(base) as raw:
        deltas = raw.send(handler_name(StaffState, "load"), {}, "/admin/staff/")
        deltas += raw.send(handler_name(CustomerState, "load"), {}, "/admin/customers/1/", {"customer_id": "1"})
    carried = text_of(deltas)
    assert "@demo.example" not in carried and "rows_rx_state_" not in carried
    assert "/login" in carried  # sent to sign in instead


def test_a_confirm_sent_with_no_pending_action_is_refused_by_the_handler(app_server, browser):
    base = app_server["base"]
    line_id = query(app_server, lambda s: s.exec(select(Line.id).where(Line.status == "active")
                                                 .order_by(Line.id).limit(1)).one())
    context = open_context(browser, "desktop")
    page = context.new_page()
    sign_in(page, base, "admin")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies() if c["name"] == "tsm_session")
    path, params = f"/admin/lines/{line_id}/", {"line_id": str(line_id)}

    with RawClient(base, cookie=cookie) as raw:
        raw.send(handler_name(LineState, "load"), {}, path, params)
        deltas = raw.send(handler_name(LineState, "confirm"), {"form": {"reason": "forged", "confirm_word": ""}},
                          path, params)
    context.close()

    assert NOT_OFFERED in text_of(deltas)
    assert query(app_server, lambda s: s.get(Line, line_id).status) == "active"


def test_a_single_lines_termination_from_its_page_waits_for_a_second_person(app_server, staff_page):
    base = app_server["base"]
    line_id = query(app_server, lambda s: s.exec(select(Line.id).where(Line.status == "active")
                                                 .order_by(Line.id.desc()).offset(5).limit(1)).one())

    def status() -> str:
        return query(app_server, lambda s: s.get(Line, line_id).status)

    maker = staff_page("support")
    maker.goto(f"{base}/admin/lines/{line_id}")
    maker.locator("[data-event='terminate']").click()
    maker.locator("#confirm-summary").wait_for(timeout=20000)
    assert "この操作は取り消せません" in maker.inner_text("#confirm-summary")
    word = maker.locator("text=確認のため「").inner_text().split("「")[1].split("」")[0]
    maker.fill("#confirm-reason", "解約申込書を受領")
    maker.fill("#confirm-word", word)
    maker.click("#confirm-submit")
    maker.get_by_text("承認申請 #").first.wait_for(timeout=20000)
    assert status() == "active"  # nothing happens before the approval

    checker = staff_page("admin")
    checker.goto(f"{base}/admin/approvals")
    card = checker.locator("[data-request]").filter(has_text="解約申込書を受領").first
    card.wait_for(timeout=20000)
    card.locator("[data-action='approve']").click()
    checker.fill("#decision-reason", "書類確認済み")
    checker.click("#decision-submit")
    checker.get_by_text("を承認し、実行しました").wait_for(timeout=20000)

    deadline = time.time() + 30
    while status() != "terminated" and time.time() < deadline:
        time.sleep(0.5)
    assert status() == "terminated"
    reason = query(app_server, lambda s: s.exec(select(AuditEntry.reason).where(
        AuditEntry.line_id == line_id, AuditEntry.action == "line.terminate")).one())
    assert "承認申請 #" in reason


# --- 本人確認記録 ---------------------------------------------------------------------------------

_AS_SALES = """
import json, sys
from services.ledger import customers
from services.platform import crypto
from services.ledger.customers import bank_account_display
from services.platform.db import read_session
from services.platform.errors import DomainError
from services.models import Customer, StaffUser
from services.platform.permissions import Actor, Role
customer_id = int(sys.argv[1])
with read_session() as s:
    sales = s.exec(__import__("sqlmodel").select(StaffUser).where(StaffUser.role == "sales")).first()
    customer = s.get(Customer, customer_id)
    old_bank = bank_account_display(customer.bank_account_enc)
actor = Actor(kind="staff", id=sales.id, role=Role.SALES, label=f"{sales.display_name} <{sales.email}>")
contact = dict(name=customer.name, name_kana=customer.name_kana, email=customer.email, phone=customer.phone,
               postal_code=customer.postal_code, address=customer.address)
out = {"old_bank": old_bank}
try:
    customers.update_customer_contact(customer_id, actor=actor, reason="番号の削除", id_document_number=None, **contact)
    out["cleared"] = "yes"
except DomainError as exc:
    out["cleared"] = "refused: " + json.dumps(getattr(exc, "fields", {}), ensure_ascii=False)
customers.update_customer_contact(customer_id, actor=actor, reason="口座の変更", **contact,
                                  bank_account="ゆうちょ銀行 〇一八店 普通 7654321 テスト タロウ")
print(json.dumps(out, ensure_ascii=False))
"""


def test_a_verified_id_document_cannot_be_cleared_and_only_the_auditor_reveals_a_changed_value(app_server, staff_page):
    import subprocess
    import sys

    from services.models import Customer
    from services.platform.config import PROJECT_ROOT

    customer_id = query(app_server, lambda s: s.exec(select(Customer.id).where(
        Customer.kyc_status == "verified", Customer.kind == "individual",
        Customer.id_document_number_enc.is_not(None), Customer.bank_account_enc.is_not(None))
        .order_by(Customer.id.desc()).limit(1)).one())
    run = subprocess.run([sys.executable, "-c", _AS_SALES, str(customer_id)], cwd=PROJECT_ROOT,
                         env=app_server["env"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["cleared"].startswith("refused") and "本人確認済の本人確認書類は変更・削除できません" in out["cleared"]
    kept, kyc_status = query(app_server, lambda s: s.exec(select(Customer.id_document_number_enc, Customer.kyc_status)
                                                          .where(Customer.id == customer_id)).one())
    assert kept is not None and kyc_status == "verified"

    base = app_server["base"]
    admin = staff_page("admin")
    admin.goto(f"{base}/admin/audit?entity_type=customer&entity_id={customer_id}")
    admin.locator("#audit-list").get_by_text("暗号化して保管").first.wait_for(timeout=20000)
    assert admin.locator("[data-reveal]").count() == 0  # an admin sees that it is kept, not what it was

    auditor = staff_page("auditor")
    auditor.goto(f"{base}/admin/audit?entity_type=customer&entity_id={customer_id}")
    button = auditor.locator("[data-reveal]").first
    button.wait_for(timeout=20000)
    button.click()
    auditor.fill("#sealed-reason", "口座変更の経緯の確認")
    auditor.click("#sealed-submit")
    auditor.locator("[data-revealed]").get_by_text(out["old_bank"]).wait_for(timeout=20000)


def test_support_confirms_an_identity_check_with_its_method_and_the_record_is_kept(app_server, staff_page):
    from services.models import Customer

    customer_id = query(app_server, lambda s: s.exec(select(Customer.id).where(
        Customer.kyc_status == "submitted", Customer.kind == "individual",
        Customer.id_document_type == "drivers_license").order_by(Customer.id).limit(1)).one())
    base = app_server["base"]
    maker = staff_page("support")
    maker.goto(f"{base}/admin/customers/{customer_id}")
    maker.locator("[data-event='kyc_verified']").click()
    maker.locator("#confirm-summary").wait_for(timeout=20000)
    assert "本人確認記録" in maker.inner_text("#confirm-summary")
    maker.click("#kyc-method")
    maker.get_by_role("option", name="郵送（本人限定受取郵便）").click()
    maker.fill("#kyc-tracking-number", "1234-5678-9012")
    maker.fill("#confirm-reason", "本人限定受取郵便の受領を確認")
    maker.click("#confirm-submit")
    maker.get_by_text("承認申請 #").first.wait_for(timeout=20000)

    checker = staff_page("admin")
    checker.goto(f"{base}/admin/approvals")
    card = checker.locator("[data-request]").filter(has_text="本人限定受取郵便の受領を確認").first
    card.wait_for(timeout=20000)
    assert "1234-5678-9012" in card.inner_text()  # the approver sees how it was checked
    card.locator("[data-action='approve']").click()
    checker.fill("#decision-reason", "追跡番号を確認")
    checker.click("#decision-submit")
    checker.get_by_text("を承認し、実行しました").wait_for(timeout=20000)

    maker.goto(f"{base}/admin/customers/{customer_id}")
    records = maker.locator("#customer-kyc-records")
    records.get_by_text("郵送（本人限定受取郵便）").wait_for(timeout=20000)
    assert "1234-5678-9012" in records.inner_text() and "契約中は保存" in records.inner_text()
    assert "****" in records.inner_text()  # support sees the document number masked
