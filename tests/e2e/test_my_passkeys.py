"""Passkeys in the customer app on a phone (390×844), with Chromium's virtual authenticator (DevTools protocol:
a CTAP2 platform authenticator that holds discoverable credentials and verifies the user): the demo 法人管理者
signs in with password + code, registers this device on /my/security, signs out, and signs in again with the
passkey alone; removed, the passkey opens nothing, and a ceremony with nothing to offer says so in words.
The app runs on a loopback origin, so it is its own relying party (services.security.passkeys).
The page is opened as http://localhost:<port>: Chromium refuses an IP address (127.0.0.1) as a relying-party
id (SecurityError), while localhost is both a valid id and a secure context."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from demo.customers import DEMO_CUSTOMERS
from services.models import CustomerPasskey, CustomerUser
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390


def _demo_admin(s: Session) -> CustomerUser:
    return s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()


def _virtual_authenticator(context, page) -> tuple[object, str]:
    """A platform passkey authenticator on this page (it answers without any dialog)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp, added["authenticatorId"]


def test_a_customer_registers_this_phone_as_a_passkey_and_signs_in_with_it_alone(app_server, browser):
    base = app_server["base"].replace("://127.0.0.1:", "://localhost:")
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        cdp, authenticator_id = _virtual_authenticator(context, page)
        page.goto(f"{base}/my/login")
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)

        page.goto(f"{base}/my/security")
        page.wait_for_selector("#no-passkeys", timeout=20000)
        page.fill("#passkey_name", "デモ用スマホ")
        page.click("#register-passkey")
        page.wait_for_selector("[data-passkey='デモ用スマホ']", timeout=20000)
        page.wait_for_selector("text=この端末をパスキーとして登録しました", timeout=20000)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
        assert len(held) == 1 and held[0]["isResidentCredential"]
        stored = query(app_server, lambda s: s.exec(select(CustomerPasskey).where(
            CustomerPasskey.customer_user_id == _demo_admin(s).id, CustomerPasskey.revoked_at == None)).all())  # noqa: E711
        assert [p.name for p in stored] == ["デモ用スマホ"]
        assert stored[0].credential_id == held[0]["credentialId"].replace("+", "-").replace("/", "_").rstrip("=")

        page.click("#my-sign-out")
        page.wait_for_url(re.compile(r".*/my/login/?$"), timeout=20000)
        page.wait_for_selector("#passkey-sign-in", timeout=20000)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        page.click("#passkey-sign-in")  # no address, no password, no code
        page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)
        page.wait_for_selector("#my-user:has-text('法人管理者 デモ')", timeout=20000)

        used = query(app_server, lambda s: s.exec(select(CustomerPasskey).where(
            CustomerPasskey.credential_id == stored[0].credential_id)).one())
        assert used.last_used_at is not None

        page.goto(f"{base}/my/security")  # removed: the phone still holds it, but it opens nothing any more
        page.wait_for_selector("[data-passkey='デモ用スマホ']", timeout=20000)
        page.locator("[data-passkey='デモ用スマホ'] button").click()
        page.wait_for_selector("#no-passkeys", timeout=20000)
        page.click("#my-sign-out")
        page.wait_for_url(re.compile(r".*/my/login/?$"), timeout=20000)
        page.wait_for_selector("#passkey-sign-in", timeout=20000)
        page.click("#passkey-sign-in")
        page.wait_for_selector("text=パスキーでログインできませんでした", timeout=20000)

        cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator_id})  # nothing to offer: cancelled
        page.click("#passkey-sign-in")
        page.wait_for_selector("text=パスキーの操作が取り消されたか、時間切れになりました", timeout=20000)
        assert re.match(r".*/my/login/?$", page.url)
    finally:
        context.close()
