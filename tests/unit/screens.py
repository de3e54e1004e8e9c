"""Signed-in screens for handler tests: a real staff session and a state bound to a page, no browser."""

from __future__ import annotations

import pyotp
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants

from demo.staff import DEMO_PASSWORD, DEMO_STAFF
from services.security import auth
from telecom_app.routes import SESSION_COOKIE


def signed_in_token(role: str) -> str:
    """The session token of the demo staff member of `role` after password and TOTP sign-in."""
    email, name, secret = DEMO_STAFF[role]
    auth.provision_demo_staff(email, name, role, DEMO_PASSWORD, secret)
    step = auth.begin_sign_in(email, DEMO_PASSWORD)
    return auth.redeem_ticket(auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))


def state_for(cls, token: str, path: str, query: dict[str, str] | None = None):
    """An instance of state `cls` as the page at `path` sees it, with the session cookie of `token`."""
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{SESSION_COOKIE}={token}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: path,
        constants.RouteVar.ORIGIN: path,
        constants.RouteVar.QUERY: query or {},
    })
    return root.get_substate(cls.get_full_name().split("."))
