"""Every event handler of the UI is either on the public allow-list or guarded by the session."""

from __future__ import annotations

import importlib

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants

import state.session
from state.session import PUBLIC_HANDLERS

importlib.import_module("telecom_app.telecom_app")  # registers every page and state

# Public on purpose: the sign-in steps, signing out (also with an expired session), the language switch.
EXPECTED_PUBLIC = {
    "state.auth.login.LoginState.reset_form",
    "state.auth.login.LoginState.submit_password",
    "state.auth.login.LoginState.submit_code",
    "state.auth.login.LoginState.continue_after_recovery_codes",
    "state.preferences.Preferences.set_lang",
    "state.admin.shell.UiState.sign_out",
}


def _state_classes(root=rx.State):
    for sub in sorted(root.get_substates(), key=lambda c: c.get_full_name()):
        yield sub
        yield from _state_classes(sub)


def _our_handlers():
    rows = []
    for cls in _state_classes():
        if not cls.__module__.startswith("state."):
            continue
        for name, handler in cls.event_handlers.items():
            if name == "setvar":
                continue
            rows.append((cls, name, handler.fn))
    return rows


HANDLERS = _our_handlers()


def test_the_app_registers_handlers_to_check():
    assert len(HANDLERS) > 20


def test_public_allow_list_is_exactly_the_sign_in_steps_and_language_switch():
    assert PUBLIC_HANDLERS == EXPECTED_PUBLIC


@pytest.mark.parametrize("cls,name,fn", HANDLERS, ids=[f"{c.__name__}.{n}" for c, n, _ in HANDLERS])
def test_every_handler_is_public_or_guarded(cls, name, fn):
    qualified = f"{fn.__module__}.{fn.__qualname__}"
    assert qualified in PUBLIC_HANDLERS or getattr(fn, "__guarded__", False), (
        f"{cls.__name__}.{name} is neither guarded nor on the public allow-list"
    )


def _state(cls, cookie: str = ""):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": cookie, "origin": "http://test"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/admin",
        constants.RouteVar.ORIGIN: "/admin",
        constants.RouteVar.QUERY: {"line_id": "1", "customer_id": "1", "contract_id": "1",
                                   "invoice_id": "1", "ticket_id": "1"},
    })
    return root.get_substate(cls.get_full_name().split("."))


GUARDED = [(c, n, f) for c, n, f in HANDLERS if getattr(f, "__guarded__", False)]


def _args_for(fn):
    import inspect

    params = list(inspect.signature(fn).parameters.values())[1:]
    values = {"form": {"reason": "x", "q": "x", "msisdn": "09012345678", "iccid": "1", "rate_plan_id": "1",
                       "kind": "individual", "name": "x", "name_kana": "カ"},
              "event": "suspend", "page": 1, "status": "active"}
    return [values.get(p.name, "x") for p in params]


@pytest.mark.parametrize("cls,name,fn", GUARDED, ids=[f"{c.__name__}.{n}" for c, n, _ in GUARDED])
@pytest.mark.parametrize("cookie", ["", "tsm_session=forged-token-value"], ids=["no-session", "forged-session"])
def test_guarded_handler_without_a_valid_session_touches_nothing_and_redirects(engine, cls, name, fn, cookie):
    st = _state(cls, cookie)
    before = {k: v for k, v in st.dict()[cls.get_full_name()].items()}
    result = fn(st, *_args_for(fn))
    assert result is not None and "login" in str(result)
    after = st.dict()[cls.get_full_name()]
    assert after == before
    assert state.session._current_actor.get() is None


def _ledger(engine) -> dict:
    from sqlalchemy import select as sa_select
    from sqlmodel import SQLModel

    skip = {"staff_session", "sign_in_attempt", "sign_in_challenge"}  # signing in itself writes these
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(sa_select(t)))) for t in SQLModel.metadata.sorted_tables
                if t.name not in skip}


_DATA_VARS = ("data", "rows", "groups", "mine", "entries", "staff", "line_counts", "plans", "revealed")


@pytest.mark.parametrize("cls,name,fn", GUARDED, ids=[f"{c.__name__}.{n}" for c, n, _ in GUARDED])
def test_raw_event_from_a_signed_in_person_whose_role_grants_nothing_is_denied(engine, monkeypatch, cls, name, fn):
    """A real session, but a role with no permissions: every handler must be stopped by the services."""
    import pyotp

    from demo.staff import DEMO_PASSWORD, DEMO_STAFF
    from services.platform import permissions
    from services.security import auth
    from tests.conftest import make_actor
    from tests.unit.builders import World

    world = World(make_actor(permissions.Role.ADMIN))
    line = world.line()
    email, label, secret = DEMO_STAFF["admin"]
    auth.provision_demo_staff(email, label, "admin", DEMO_PASSWORD, secret)
    step = auth.begin_sign_in(email, DEMO_PASSWORD)
    token = auth.redeem_ticket(auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))
    monkeypatch.setattr(permissions, "PERMISSIONS", {})  # the signed-in role now grants nothing
    st = _state(cls, f"tsm_session={token}")
    for key, value in {"line_id": line.id, "customer_id": line.customer_id, "contract_id": line.contract_id}.items():
        st.router._page.params[key] = str(value)
    before = _ledger(engine)

    result = fn(st, *_args_for(fn))

    assert _ledger(engine) == before, f"{cls.__name__}.{name} changed the ledger without permission"
    own = st.dict()[cls.get_full_name()]
    leaked = {k: own[k] for k in _DATA_VARS if own.get(k)}
    assert not leaked, f"{cls.__name__}.{name} loaded data without permission: {list(leaked)}"
    assert result is None or "login" not in str(result)  # the session itself is valid
