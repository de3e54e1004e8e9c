"""Staff single sign-on against the local OpenID provider (sandbox/oidc_provider.py) over real HTTP.

The provider runs as its own process on a free loopback port. The services flow
(services.security.oidc + services.security.auth) and the Starlette routes (telecom_app.api, in-process via
starlette.testclient) are driven end to end: authorization request, the provider's redirect,
code exchange with PKCE, ID token verification, and the session or our own TOTP step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import select

from services.models import AuditEntry
from services.platform import config
from services.platform.config import PROJECT_ROOT
from services.platform.db import read_session
from services.platform.permissions import Role
from services.security import auth, oidc
from tests.stack import free_port

pytestmark = pytest.mark.integration

CLIENT_ID = "telecom-back-office"
CLIENT_SECRET = "sandbox-client-secret"
APP_URL = "http://localhost:3000"  # plain http only to this machine: the cookies are not Secure
REDIRECT_URI = APP_URL + oidc.CALLBACK_PATH
PASSWORD = "correct horse battery"
ADMIN_EMAIL, ADMIN_SECRET = "sso-admin@example.jp", pyotp.random_base32()


@pytest.fixture(scope="module")
def provider():
    """Start the sandbox OpenID provider on a free loopback port; stop it after the module."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.oidc_provider", "--port", str(port), "--user", ADMIN_EMAIL,
         "--amr", "pwd,mfa", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
         "--redirect-uri", REDIRECT_URI],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the provider exited: {proc.stdout.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the provider did not start within 30 s")
            time.sleep(0.2)
        yield issuer
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def control(issuer: str, **settings) -> None:
    """Tell the provider which user signs in, which amr it asserts and which faults to inject."""
    httpx.post(f"{issuer}/_control", json=settings, timeout=5).raise_for_status()


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))


@pytest.fixture()
def client(provider, engine, monkeypatch) -> oidc.OidcClient:
    """SSO configured for the provider (TELECOM_OIDC_*), a fresh ledger with an enrolled admin."""
    control(provider, user=ADMIN_EMAIL, amr=["pwd", "mfa"], faults=[])
    monkeypatch.setattr(config, "settings", dataclasses.replace(
        config.settings, oidc_issuer=provider, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET,
        app_url=APP_URL))
    auth.provision_demo_staff(ADMIN_EMAIL, "SSO 管理者", "admin", PASSWORD, ADMIN_SECRET)
    configured = oidc.configured_client()
    assert configured == oidc.OidcClient(provider, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    return configured


def authorize(client: oidc.OidcClient) -> tuple[oidc.AuthorizationStart, dict[str, str]]:
    """Start a flow and let the provider answer; returns the start and the callback's query."""
    start = oidc.start_authorization(client)
    answer = httpx.get(start.url, follow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return start, {k: v[0] for k, v in parse_qs(location.query).items()}


def finish(client: oidc.OidcClient, start: oidc.AuthorizationStart, query: dict[str, str]) -> oidc.OidcIdentity:
    return oidc.finish_authorization(client, code=query.get("code"), state=query.get("state"),
                                     error=query.get("error"), issuer_param=query.get("iss"),
                                     flow_cookie=start.flow_cookie)


def sign_in_audit() -> dict:
    with read_session() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "auth.sign_in")
                             .order_by(AuditEntry.id.desc())).first()
    return json.loads(entry.after_json)


# --- the services flow -----------------------------------------------------------------------

def test_authorization_request_uses_state_nonce_and_pkce_s256(client):
    start = oidc.start_authorization(client)
    query = parse_qs(urlsplit(start.url).query)
    assert start.url.startswith(client.issuer + "/authorize?")
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [REDIRECT_URI] and "openid" in query["scope"][0].split()
    assert all(len(query[k][0]) >= 32 for k in ("state", "nonce", "code_challenge"))
    # The flow cookie is encrypted: neither the state nor the nonce can be read from it.
    assert query["state"][0] not in start.flow_cookie and query["nonce"][0] not in start.flow_cookie


def test_provider_asserting_mfa_signs_in_at_once_and_is_audited_as_oidc(client):
    identity = finish(client, *authorize(client))
    assert identity.mfa_asserted is True and identity.email == ADMIN_EMAIL
    step = auth.continue_sso_sign_in(identity.staff_user_id, mfa_asserted=True)
    assert step.stage == "ticket"
    actor = auth.resolve_session(auth.redeem_ticket(step.challenge_token))
    assert (actor.id, actor.role) == (identity.staff_user_id, Role.ADMIN)
    assert sign_in_audit()["method"] == "oidc"


def test_provider_without_mfa_leads_to_our_own_totp_step(client, provider):
    control(provider, amr=["pwd"])
    identity = finish(client, *authorize(client))
    assert identity.mfa_asserted is False
    step = auth.continue_sso_sign_in(identity.staff_user_id, mfa_asserted=False)
    assert step.stage == "mfa"
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket(step.challenge_token)  # a challenge is not a ticket
    ticket = auth.verify_mfa(step.challenge_token, pyotp.TOTP(ADMIN_SECRET).now())
    assert auth.resolve_session(auth.redeem_ticket(ticket)).id == identity.staff_user_id
    assert sign_in_audit()["method"] == "oidc"


def test_otp_in_amr_also_counts_as_mfa(client, provider):
    control(provider, amr=["pwd", "otp"])
    assert finish(client, *authorize(client)).mfa_asserted is True


@pytest.mark.parametrize("fault,logged", [
    ("wrong_nonce", "Invalid claim: 'nonce'"), ("wrong_aud", "Invalid claim: 'aud'"),
    ("bad_signature", "BadSignatureError"), ("wrong_issuer", "Invalid claim: 'iss'"),
    ("expired", "ExpiredTokenError"), ("no_email", "without email"), ("deny", "access_denied"),
])
def test_a_forged_or_mismatched_answer_is_refused(client, provider, caplog, fault, logged):
    control(provider, faults=[fault])
    start, query = authorize(client)
    with caplog.at_level(logging.WARNING, logger="services.security.oidc"), \
            pytest.raises(auth.AuthenticationFailed) as err:
        finish(client, start, query)
    assert err.value.message == auth.SSO_FAILED  # the screen never says why
    assert logged in caplog.text  # the log does, without tokens or addresses
    assert start.flow_cookie not in caplog.text and ADMIN_EMAIL not in caplog.text


def test_unknown_or_disabled_email_gets_the_generic_failure(client, provider, admin):
    from services.security import staff_admin

    control(provider, user="stranger@example.jp")
    with pytest.raises(auth.AuthenticationFailed) as err:
        finish(client, *authorize(client))
    assert err.value.message == auth.SSO_FAILED

    user = staff_admin.create_staff_user(actor=admin, email="leaver@example.jp", display_name="退職 者",
                                         role="support", password=PASSWORD)
    staff_admin.disable_staff_user(user.id, actor=admin, reason="退職")
    control(provider, user="LEAVER@example.jp")
    with pytest.raises(auth.AuthenticationFailed) as err:
        finish(client, *authorize(client))
    assert err.value.message == auth.SSO_FAILED


def test_state_must_match_the_flow_cookie_and_codes_work_once(client):
    start, query = authorize(client)
    with pytest.raises(auth.AuthenticationFailed):
        finish(client, start, query | {"state": "attacker-state"})
    with pytest.raises(auth.AuthenticationFailed):
        finish(client, dataclasses.replace(start, flow_cookie=None), query)
    with pytest.raises(auth.AuthenticationFailed):
        finish(client, start, query | {"iss": "http://evil.example"})
    assert finish(client, start, query).email == ADMIN_EMAIL
    with pytest.raises(auth.AuthenticationFailed):
        finish(client, start, query)  # the provider refuses a used code


def test_a_code_used_with_another_flows_verifier_is_refused_by_pkce(client):
    _, stolen = authorize(client)
    victim_start, victim_query = authorize(client)
    with pytest.raises(auth.AuthenticationFailed):
        finish(client, victim_start, victim_query | {"code": stolen["code"]})


def test_a_wrong_client_secret_is_refused(client):
    start, query = authorize(client)
    with pytest.raises(auth.AuthenticationFailed):
        finish(dataclasses.replace(client, client_secret="not-the-secret"), start, query)


def test_an_unreachable_provider_gives_the_generic_failure(client):
    dead = dataclasses.replace(client, issuer=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(auth.AuthenticationFailed) as err:
        oidc.start_authorization(dead)
    assert err.value.message == auth.SSO_FAILED


# --- the HTTP routes (telecom_app.api) -------------------------------------------------------

def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


class Browser:
    """A cookie-keeping client of our API routes, in-process through httpx's ASGI transport."""

    def __init__(self, app):
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_URL,
                                         follow_redirects=False)

    def get(self, url: str) -> httpx.Response:
        return self._loop.run_until_complete(self._client.get(url))

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@pytest.fixture()
def browser(client):
    from telecom_app.api import build_api

    b = Browser(build_api())
    yield b
    b.close()


def _through_provider(browser: Browser) -> httpx.Response:
    """/api/auth/oidc/login -> provider /authorize -> our callback; returns the callback's answer."""
    login = browser.get("/api/auth/oidc/login")
    assert login.status_code == 303
    flow_cookie = _set_cookies(login)["tsm_oidc_flow"]
    assert "HttpOnly" in flow_cookie and "SameSite=lax" in flow_cookie and "Path=/api/auth/oidc" in flow_cookie
    answer = httpx.get(login.headers["location"], follow_redirects=False, timeout=5)
    callback = urlsplit(answer.headers["location"])
    return browser.get(f"{callback.path}?{callback.query}")


def test_routes_sign_in_with_mfa_asserted_and_set_the_session_cookie(browser):
    callback = _through_provider(browser)
    assert callback.status_code == 303
    assert callback.headers["location"].startswith("/api/auth/complete?ticket=oidc.")
    assert "tsm_oidc_flow=\"\"" in _set_cookies(callback)["tsm_oidc_flow"]  # the flow cookie is spent
    complete = browser.get(callback.headers["location"])
    assert (complete.status_code, complete.headers["location"]) == (303, "/admin/")
    session_cookie = _set_cookies(complete)["tsm_session"]
    assert "HttpOnly" in session_cookie
    token = SimpleCookie(session_cookie)["tsm_session"].value
    assert auth.resolve_session(token).label.endswith(f"<{ADMIN_EMAIL}>")
    assert sign_in_audit()["method"] == "oidc"


def test_routes_hand_our_totp_step_to_the_sign_in_page_when_mfa_was_not_asserted(browser, provider):
    import telecom_app.telecom_app  # noqa: F401  (registers the states)
    from state.auth.login import LoginState
    from telecom_app.routes import SSO_CHALLENGE_COOKIE
    from tests.unit.test_staff_screen import _state

    control(provider, amr=["pwd"])
    callback = _through_provider(browser)
    assert (callback.status_code, callback.headers["location"]) == (303, "/login")
    challenge_cookie = _set_cookies(callback)[SSO_CHALLENGE_COOKIE]
    assert "HttpOnly" in challenge_cookie and "Max-Age=600" in challenge_cookie
    assert "tsm_session" not in _set_cookies(callback)

    token = SimpleCookie(challenge_cookie)[SSO_CHALLENGE_COOKIE].value
    page = _state(LoginState, f"{SSO_CHALLENGE_COOKIE}={token}", path="/login")
    LoginState.reset_form.fn(page)
    assert page.stage == "mfa" and page.sso_enabled is True
    redirect = LoginState.submit_code.fn(page, {"code": pyotp.TOTP(ADMIN_SECRET).now()})
    ticket_url = re.search(r"/api/auth/complete\?ticket=oidc\.[\w\-]+", str(redirect))
    assert ticket_url, redirect

    complete = browser.get(ticket_url.group(0))
    assert complete.status_code == 303 and complete.headers["location"] == "/admin/"
    assert SSO_CHALLENGE_COOKIE + '=""' in _set_cookies(complete)[SSO_CHALLENGE_COOKIE]  # cleared
    assert sign_in_audit()["method"] == "oidc"


def test_routes_send_an_unknown_user_back_to_sign_in_with_the_generic_message(browser, provider):
    control(provider, user="stranger@example.jp")
    callback = _through_provider(browser)
    assert (callback.status_code, callback.headers["location"]) == (303, "/login?sso_failed=1")
    assert "tsm_session" not in _set_cookies(callback)


def test_sso_routes_do_nothing_while_sso_is_not_configured(browser, monkeypatch):
    monkeypatch.setattr(config, "settings", dataclasses.replace(config.settings, oidc_issuer=""))
    assert browser.get("/api/auth/oidc/login").headers["location"] == "/login"
    assert browser.get("/api/auth/oidc/callback?code=x&state=y").headers["location"] == "/login?sso_failed=1"
