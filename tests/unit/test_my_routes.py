"""The customer app's HTTP routes: a notice's link (/go/<kind>/<key>) opens the right page for whoever follows
it, sign-in completes onto a /my page only, the bill PDF is served to its customer only, and a staff cookie
opens nothing of a customer's (nor the reverse)."""

from __future__ import annotations

from datetime import datetime

import pyotp
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.testclient import TestClient

from services.platform.errors import NotAuthenticated
from services.security import auth, customer_auth, staff_admin
from telecom_app import routes
from telecom_app.api import build_api
from telecom_app.http_policy import HttpPolicy

PASSWORD = "blue kettle on a quiet morning"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def fast_customer_passwords(monkeypatch):
    monkeypatch.setattr(customer_auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))


@pytest.fixture()
def clock(clock, monkeypatch):
    monkeypatch.setattr(customer_auth, "clock", clock)
    return clock


@pytest.fixture()
def client(engine):
    with TestClient(HttpPolicy(build_api()), raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


def _code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def _customer_ticket(world, clock) -> str:
    customer_id = world.customer(name="株式会社サンプル商事", kana="カブシキガイシャサンプルショウジ")
    customer_auth.provision_demo_customer_user(customer_id, email="hanako@example.jp", name="佐藤 花子",
                                               role="customer_admin", password=PASSWORD, totp_secret=SECRET)
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    return customer_auth.verify_mfa(step.challenge_token, _code(SECRET, clock.now))


def _signed_in(client, ticket: str) -> str:
    """Complete a customer's sign-in and keep the cookie (the test client's http:// host gets a Secure cookie it
    would not send back by itself)."""
    response = client.get(routes.my_complete_sign_in(ticket))
    token = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    client.cookies.set(routes.MY_SESSION_COOKIE, token)
    return token


def _staff_token(admin, clock) -> str:
    staff_admin.create_staff_user(actor=admin, email="tanaka@example.jp", display_name="田中 一郎", role="support",
                                  password=PASSWORD)
    step = auth.begin_sign_in("tanaka@example.jp", PASSWORD)
    enrollment = auth.start_enrollment(step.challenge_token)
    return auth.redeem_ticket(auth.complete_enrollment(step.challenge_token,
                                                       _code(enrollment.secret, clock.now)).ticket)


def test_a_notice_link_opened_signed_out_goes_to_sign_in_and_remembers_the_page(client):
    response = client.get("/go/invoice/42")

    assert response.status_code == 303
    assert response.headers["location"] == "/my/login?next=%2Fmy%2Fbills%2F42"


def test_invitation_and_reset_links_open_their_page_without_a_session(client):
    assert client.get("/go/invitation/abc_DEF-123").headers["location"] == "/my/invite/abc_DEF-123"
    assert client.get("/go/password_reset/tok-1").headers["location"] == "/my/reset/tok-1"


def test_a_kind_without_a_page_or_a_strange_key_lands_on_the_home_page_after_sign_in(client):
    assert client.get("/go/incident/7").headers["location"] == "/my/login?next=%2Fmy"
    assert client.get("/go/shipment/7").headers["location"] == "/my/login?next=%2Fmy%2Fshipments%2F7"  # has a page
    assert client.get("/go/payment_method/3").headers["location"] == "/my/login?next=%2Fmy%2Fpayment"  # the card's
    assert client.get("/go/invoice/1%3Cscript%3E").headers["location"] == "/my/login?next=%2Fmy"


def test_a_request_notice_link_opens_the_line_page_on_that_request_after_sign_in(client, world, clock):
    response = client.get("/go/line/5?request=approval-12")
    assert response.headers["location"] == "/my/login?next=%2Fmy%2Flines%2F5%3Frequest%3Dapproval-12"
    # a key that is not a request's is dropped, the line page stays
    assert client.get("/go/line/5?request=x%3Cy").headers["location"] == "/my/login?next=%2Fmy%2Flines%2F5"
    assert client.get("/go/invoice/5?request=approval-12").headers["location"] == "/my/login?next=%2Fmy%2Fbills%2F5"

    arrived = client.get(routes.my_complete_sign_in(_customer_ticket(world, clock), "/my/lines/5?request=approval-12"))
    assert arrived.headers["location"] == "/my/lines/5?request=approval-12"


def test_sign_in_completes_onto_the_page_asked_for_with_a_lax_httponly_cookie(client, world, clock):
    ticket = _customer_ticket(world, clock)

    response = client.get(routes.my_complete_sign_in(ticket, "/my/bills/42"))

    assert response.status_code == 303 and response.headers["location"] == "/my/bills/42"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{routes.MY_SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    # the same ticket twice: the second is refused
    again = client.get(routes.my_complete_sign_in(ticket, "/my/bills/42"))
    assert again.headers["location"] == "/my/login?expired=1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/my", "/admin", "/my/../admin",
                                    "/myfake"])
def test_sign_in_never_sends_a_customer_outside_the_customer_app(client, world, clock, target):
    ticket = _customer_ticket(world, clock)

    response = client.get(routes.my_complete_sign_in(ticket, target))

    assert response.headers["location"] == routes.MY_HOME


def test_with_a_customer_session_a_notice_link_opens_the_customers_page(client, world, clock):
    _signed_in(client, _customer_ticket(world, clock))

    assert client.get("/go/invoice/42").headers["location"] == "/my/bills/42"


def test_with_a_staff_session_a_notice_link_opens_the_staff_screen(client, admin, clock):
    client.cookies.set(routes.SESSION_COOKIE, _staff_token(admin, clock))

    assert client.get("/go/invoice/42").headers["location"] == "/admin/invoices/42"


def test_the_bill_pdf_needs_a_customer_session_and_a_staff_cookie_is_not_one(client, admin, clock):
    assert client.get(routes.my_invoice_pdf(1)).status_code == 401
    client.cookies.set(routes.SESSION_COOKIE, _staff_token(admin, clock))

    assert client.get(routes.my_invoice_pdf(1)).status_code == 401


def test_a_customer_gets_not_found_for_a_bill_that_is_not_theirs(client, world, clock):
    _signed_in(client, _customer_ticket(world, clock))

    response = client.get(routes.my_invoice_pdf(999999))

    assert response.status_code == 404 and response.text == "見つかりません。"


def test_customer_sign_out_ends_the_session_and_clears_the_cookie(client, world, clock):
    token = _signed_in(client, _customer_ticket(world, clock))

    response = client.post(routes.API_MY_SIGN_OUT)

    assert response.headers["location"] == routes.MY_LOGIN
    assert f'{routes.MY_SESSION_COOKIE}=""' in response.headers["set-cookie"]
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(token)


def test_the_web_app_manifest_opens_the_customer_app_from_the_home_screen(client):
    response = client.get(routes.MANIFEST)

    assert response.status_code == 200 and response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert (manifest["start_url"], manifest["scope"], manifest["display"], manifest["lang"]) == (
        "/my", "/my", "standalone", "ja")
    assert manifest["icons"][0]["src"] == "/icon.svg"
