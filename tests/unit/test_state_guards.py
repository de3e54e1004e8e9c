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
    # the customer app's way in (/my): sign-in, an invitation, a forgotten password, signing out
    "state.my.login.MyLoginState.reset_form",
    "state.my.login.MyLoginState.load_invitation",
    "state.my.login.MyLoginState.submit_password",
    "state.my.login.MyLoginState.accept_invitation",
    "state.my.login.MyLoginState.submit_code",
    "state.my.login.MyLoginState.continue_after_recovery_codes",
    "state.my.login.MyLoginState.start_passkey_sign_in",
    "state.my.login.MyLoginState.finish_passkey_sign_in",
    "state.my.login.MyPasswordResetState.load_forgot",
    "state.my.login.MyPasswordResetState.request_link",
    "state.my.login.MyPasswordResetState.load_reset",
    "state.my.login.MyPasswordResetState.set_new_password",
    "state.my.shell.MyShellState.sign_out",
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
_CUSTOMER_DATA_VARS = ("lines", "bills", "bill", "items", "notices", "devices", "people", "line_choices",
                       "contracts", "contract", "timeline", "plan_choices", "option_choices", "offer", "addons",
                       "line_view", "line_requests",
                       "tickets", "ticket", "topics", "messages",  # the customer's tickets (state.my.tickets)
                       "shipment", "steps")  # a shipment's tracking page (state.my.shipments)


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
    leaked = {k: own[k] for k in _DATA_VARS + _CUSTOMER_DATA_VARS if own.get(k)}
    assert not leaked, f"{cls.__name__}.{name} loaded data without permission: {list(leaked)}"
    if fn.__guarded__ == "customer":  # a staff session is no session at all for the customer app
        assert result is not None and "/my/login" in str(result)
    else:
        assert result is None or "login" not in str(result)  # the session itself is valid


CUSTOMER_GUARDED = [(c, n, f) for c, n, f in GUARDED if f.__guarded__ == "customer"]


@pytest.mark.parametrize("cls,name,fn", CUSTOMER_GUARDED, ids=[f"{c.__name__}.{n}" for c, n, _ in CUSTOMER_GUARDED])
def test_raw_event_from_a_customer_user_who_may_see_nothing_loads_nothing_and_changes_nothing(engine, cls, name, fn):
    """A real customer session of a 利用者 with no line and no rights, ids of the company's line and bill in the
    URL: every /my handler is stopped by the services' scope (their own devices are theirs to see)."""
    import pyotp

    from services.platform import permissions
    from services.security import customer_auth
    from tests.conftest import make_actor
    from tests.unit.builders import World

    world = World(make_actor(permissions.Role.ADMIN))
    line = world.line()
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    customer_auth.provision_demo_customer_user(line.customer_id, email="nobody@example.jp", name="利用者 なし",
                                               role="user", password="a quiet river under the bridge",
                                               totp_secret=secret)
    step = customer_auth.begin_sign_in("nobody@example.jp", "a quiet river under the bridge")
    token = customer_auth.redeem_ticket(customer_auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))
    st = _state(cls, f"tsm_my_session={token}")
    st.router._page.params.update({"line_id": str(line.id), "invoice_id": "1"})
    before = _ledger(engine)

    result = fn(st, *_args_for(fn))

    # their own session, and the ceremony of a passkey for their own account, are theirs to start
    changed = {t for t, rows in _ledger(engine).items() if rows != before.get(t)} - {"customer_session",
                                                                                     "customer_webauthn_challenge"}
    assert not changed, f"{cls.__name__}.{name} changed {changed}"
    own = st.dict()[cls.get_full_name()]
    leaked = {k: own[k] for k in _CUSTOMER_DATA_VARS if own.get(k) and k != "devices"}
    assert not leaked, f"{cls.__name__}.{name} loaded data it may not: {list(leaked)}"
    assert result is None or "login" not in str(result)  # the session itself is valid


@pytest.mark.parametrize("cls,name,fn", CUSTOMER_GUARDED, ids=[f"{c.__name__}.{n}" for c, n, _ in CUSTOMER_GUARDED])
def test_raw_event_with_another_companys_ids_finds_nothing_and_changes_nothing(engine, cls, name, fn):
    """The IDOR check per handler: a 法人管理者 of company B, signed in for real, sends every /my event with
    company A's line, contract, bill and ticket ids in the URL: nothing of A is loaded and nothing changes."""
    import json

    import pyotp

    from services.platform import permissions
    from services.security import customer_auth
    from tests.conftest import make_actor
    from tests.unit.builders import World

    world = World(make_actor(permissions.Role.ADMIN))
    theirs = world.active_line()
    invoice = world.invoice(world.active_contract(theirs.customer_id))
    ticket = world.ticket(theirs.customer_id)
    mine = world.active_line()
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    customer_auth.provision_demo_customer_user(mine.customer_id, email="b-admin@example.jp", name="法人管理者 B",
                                               role="customer_admin", password="a quiet river under the bridge",
                                               totp_secret=secret)
    step = customer_auth.begin_sign_in("b-admin@example.jp", "a quiet river under the bridge")
    token = customer_auth.redeem_ticket(customer_auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))
    st = _state(cls, f"tsm_my_session={token}")
    st.router._page.params.update({"line_id": str(theirs.id), "contract_id": str(theirs.contract_id),
                                   "invoice_id": str(invoice.id), "ticket_id": str(ticket.id)})
    args = [theirs.id if p in ("line_id", "x") else p for p in _args_for(fn)]
    before = _ledger(engine)

    fn(st, *args)

    changed = {t for t, rows in _ledger(engine).items() if rows != before.get(t)}
    changed -= {"customer_session", "customer_webauthn_challenge"}
    assert not changed, f"{cls.__name__}.{name} changed {changed}"
    shown = json.dumps(st.dict()[cls.get_full_name()], ensure_ascii=False, default=str)
    for secret_value in (theirs.msisdn[-4:] + '"', invoice.invoice_no, "通信できない"):
        assert secret_value not in shown, f"{cls.__name__}.{name} showed {secret_value!r} of another company"
