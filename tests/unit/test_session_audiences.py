"""A handler is guarded for one audience: a customer session never resolves on a staff handler, nor a
staff session on a customer's (the customer audience is declared here the way the customer app will)."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.platform.errors import NotAuthenticated
from services.platform.permissions import Actor, Role
from state import session
from state.admin.dashboard import DashboardState
from state.session import CUSTOMER, STAFF, Audience, guarded, resolve
from state.session_scope import session_key
from telecom_app.routes import SESSION_COOKIE
from tests.unit.screens import signed_in_token

MY_COOKIE = "tsm_test_my_session"
CUSTOMER_TOKEN = "customer-session-token-made-in-this-test"
YAMADA = Actor(kind="customer", id=501, role=Role.CUSTOMER_ADMIN, label="山田 太郎", customer_id=77, session_id=9)


def _customer_resolver(token, *, request_id=None):
    if token != CUSTOMER_TOKEN:
        raise NotAuthenticated()
    return YAMADA


@pytest.fixture()
def customer_audience(monkeypatch):
    """A customer audience whose sessions this test makes (the app's own one is put back afterwards)."""
    monkeypatch.setitem(session.AUDIENCES, CUSTOMER, Audience(CUSTOMER, MY_COOKIE, _customer_resolver, "/my/login"))


def _router(cookie: str) -> RouterData:
    return RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": cookie}, constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/admin", constants.RouteVar.ORIGIN: "/admin", constants.RouteVar.QUERY: {},
    })


def _dashboard(cookie: str):
    root = rx.State(_reflex_internal_init=True)
    root.router = _router(cookie)
    return root.get_substate(DashboardState.get_full_name().split("."))


class _Page:
    """The part of a state a guarded handler touches: the router and the message vars."""

    def __init__(self, cookie: str):
        self.router, self.error, self.field_errors = _router(cookie), "", {}


@guarded(CUSTOMER)
def _my_lines(page):
    """A customer handler: records who ran it."""
    page.ran_as = session.actor()
    return None


def test_a_customer_session_does_not_open_a_staff_page(engine, customer_audience):
    page = _dashboard(f"{MY_COOKIE}={CUSTOMER_TOKEN}")

    result = DashboardState.load.fn(page)

    assert "/login" in str(result) and page.line_counts == []


def test_a_customer_session_in_the_staff_cookie_is_refused_even_if_a_resolver_accepted_it(engine, monkeypatch):
    monkeypatch.setitem(session.AUDIENCES, STAFF, Audience(STAFF, SESSION_COOKIE, _customer_resolver, "/login"))
    page = _dashboard(f"{SESSION_COOKIE}={CUSTOMER_TOKEN}")

    result = DashboardState.load.fn(page)

    assert "/login" in str(result) and page.line_counts == []
    with pytest.raises(NotAuthenticated):
        resolve(_router(f"{SESSION_COOKIE}={CUSTOMER_TOKEN}"), STAFF)


def test_a_staff_session_does_not_run_a_customer_handler(engine, customer_audience):
    token = signed_in_token("admin")
    page = _Page(f"{SESSION_COOKIE}={token}")

    result = _my_lines(page)

    assert "/my/login" in str(result) and not hasattr(page, "ran_as")


def test_a_staff_token_put_in_the_customer_cookie_resolves_to_nobody(engine, customer_audience):
    token = signed_in_token("admin")
    page = _Page(f"{MY_COOKIE}={token}")

    assert "/my/login" in str(_my_lines(page)) and not hasattr(page, "ran_as")


def test_the_customer_session_runs_the_customer_handler_as_that_customer(engine, customer_audience):
    page = _Page(f"{MY_COOKIE}={CUSTOMER_TOKEN}")

    assert _my_lines(page) is None
    assert page.ran_as == YAMADA and page.error == ""


def test_the_staff_session_still_opens_the_staff_page_beside_a_customer_cookie(engine, customer_audience):
    token = signed_in_token("admin")
    page = _dashboard(f"{MY_COOKIE}=forged; {SESSION_COOKIE}={token}")

    assert DashboardState.load.fn(page) is None and page.line_counts != []


def test_a_tab_is_bound_to_each_audience_signed_in(engine, customer_audience):
    token = signed_in_token("admin")

    key = session_key(_router(f"{MY_COOKIE}={CUSTOMER_TOKEN}; {SESSION_COOKIE}={token}"))

    assert key.startswith("customer:9 staff:")
    assert session_key(_router(f"{MY_COOKIE}={CUSTOMER_TOKEN}")) == "customer:9"
    assert session_key(_router("")) == ""
