"""A tab's state is reset before anything runs under another session than the one that loaded it."""

from __future__ import annotations

import asyncio
import importlib

import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants

from state.admin.customers import CustomerState
from state.admin.shell import UiState
from state.preferences import Preferences
from state.session_scope import SessionScope, SessionScopeMiddleware, app_state_classes, reset_tab
from telecom_app.routes import SESSION_COOKIE
from tests.unit.screens import signed_in_token

importlib.import_module("telecom_app.telecom_app")  # registers every page and state


def _tab(cookie: str = ""):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": cookie}, constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/admin", constants.RouteVar.ORIGIN: "/admin", constants.RouteVar.QUERY: {},
    })
    return root


def _fill(root) -> None:
    customer = root.get_substate(CustomerState.get_full_name().split("."))
    customer.data = {"customer": {"address": "東京都千代田区1-1", "birth_date": "1980-01-01"}}
    customer.revealed = {"bank_account": "みずほ銀行 渋谷支店 普通 1234567"}
    root.get_substate(UiState.get_full_name().split(".")).user_label = "管理者 三郎 <admin@demo.example>"
    root.get_substate(Preferences.get_full_name().split(".")).lang = "en"


def _customer(root):
    return root.get_substate(CustomerState.get_full_name().split("."))


def test_every_state_of_the_app_is_covered_by_the_reset():
    names = {cls.__name__ for cls in app_state_classes()}
    assert {"CustomerState", "UiState", "LoginState", "StaffState", "AuditState", "SessionScope"} <= names
    assert all(cls.__module__.startswith("state.") for cls in app_state_classes())


def test_reset_empties_personal_data_and_keeps_the_language_cookie():
    root = _tab()
    _fill(root)

    asyncio.run(reset_tab(root))

    assert _customer(root).data == {} and _customer(root).revealed == {}
    ui = root.get_substate(UiState.get_full_name().split("."))
    preferences = root.get_substate(Preferences.get_full_name().split("."))
    assert ui.user_label == "" and preferences.lang == "en"


def test_an_event_without_a_session_on_a_tab_loaded_under_one_resets_it_first(engine):
    root = _tab(cookie="")
    _fill(root)
    root.get_substate(SessionScope.get_full_name().split("."))._bound = "staff:1"

    asyncio.run(SessionScopeMiddleware().preprocess(None, root, None))

    assert _customer(root).data == {}
    assert root.get_substate(SessionScope.get_full_name().split("."))._bound == ""


def test_an_event_under_the_session_that_loaded_the_tab_keeps_it(engine):
    token = signed_in_token("admin")
    root = _tab(cookie=f"{SESSION_COOKIE}={token}")
    asyncio.run(SessionScopeMiddleware().preprocess(None, root, None))  # binds the tab to this session
    _fill(root)

    asyncio.run(SessionScopeMiddleware().preprocess(None, root, None))

    assert _customer(root).data["customer"]["address"] == "東京都千代田区1-1"


def test_an_event_under_another_persons_session_resets_the_tab(engine):
    first = _tab(cookie=f"{SESSION_COOKIE}={signed_in_token('admin')}")
    asyncio.run(SessionScopeMiddleware().preprocess(None, first, None))
    _fill(first)
    first.router = _tab(cookie=f"{SESSION_COOKIE}={signed_in_token('sales')}").router

    asyncio.run(SessionScopeMiddleware().preprocess(None, first, None))

    assert _customer(first).data == {}
