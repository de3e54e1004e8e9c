"""Who is signed in, per audience: staff in the back office (/admin), customers in /my.

Each audience has its own session cookie and its own resolver (cookie token -> Actor). A handler
is guarded for exactly one audience: `@guarded(STAFF)` re-derives the actor on the server from the
staff cookie before anything runs, and refuses any actor that is not of that audience, so a
customer session never resolves on a staff handler, nor a staff session on a customer's. The
session token lives in an HttpOnly cookie page JavaScript cannot read; the browser sends it with
the websocket connection.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from services.platform.errors import DomainError, NotAuthenticated, ValidationFailed
from services.platform.permissions import Actor
from services.security import auth, customer_auth
from telecom_app import routes

logger = logging.getLogger(__name__)
_current_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("current_actor", default=None)

STAFF = "staff"
CUSTOMER = "customer"
FAILED = "処理できませんでした。ページを再読み込みしてからやり直してください。"


@dataclass(frozen=True)
class Audience:
    """One audience of the UI: the cookie its session travels in, how a token becomes an actor, where
    a person without a session is sent."""

    name: str
    cookie: str
    resolve: Callable[..., Actor]  # (token, *, request_id) -> Actor, or NotAuthenticated
    sign_in: str
    returns_after_sign_in: bool = False  # sign-in takes ?next= and brings the person back to the page


AUDIENCES: dict[str, Audience] = {}


def register_audience(audience: Audience) -> None:
    """Declare an audience (the app declares staff; the customer app declares its own)."""
    AUDIENCES[audience.name] = audience


register_audience(Audience(STAFF, routes.SESSION_COOKIE, auth.resolve_session, routes.LOGIN))
register_audience(Audience(CUSTOMER, routes.MY_SESSION_COOKIE, customer_auth.resolve_session, routes.MY_LOGIN,
                           returns_after_sign_in=True))

# Handlers that may run without a session (signing in, switching language).
PUBLIC_HANDLERS: set[str] = set()


def public(fn: Callable) -> Callable:
    """Mark a handler as deliberately reachable without a session."""
    PUBLIC_HANDLERS.add(f"{fn.__module__}.{fn.__qualname__}")
    return fn


def cookie_value(router: Any, name: str) -> str | None:
    """One cookie from the Cookie header the browser sent with the websocket (None if absent or malformed)."""
    jar = SimpleCookie()
    try:
        jar.load(router.headers.cookie or "")
    except Exception:  # a malformed Cookie header means: no such cookie (SimpleCookie raises more than CookieError)
        return None
    return jar[name].value if name in jar else None


def session_token(router: Any, audience: str = STAFF) -> str | None:
    """The session token of `audience` the browser sent with the websocket (None for an undeclared audience)."""
    spec = AUDIENCES.get(audience)
    return cookie_value(router, spec.cookie) if spec else None


def resolve(router: Any, audience: str, *, request_id: str | None = None) -> Actor:
    """The signed-in actor of `audience` for this request, or NotAuthenticated (also for an actor of
    another audience, whatever its token resolved to)."""
    spec = AUDIENCES.get(audience)
    if spec is None:  # an audience nobody declared has no sessions
        raise NotAuthenticated()
    current = spec.resolve(session_token(router, audience), request_id=request_id)
    if current.kind != audience:
        logger.warning("a %s session was presented to a %s handler", current.kind, audience)
        raise NotAuthenticated()
    return current


def actor() -> Actor:
    """The actor of the running guarded handler (set by @guarded)."""
    current = _current_actor.get()
    if current is None:
        raise NotAuthenticated()
    return current


def guarded(audience: str) -> Callable[[Callable], Callable]:
    """Guard handlers of one audience: resolve the actor from that audience's session or send the
    person to sign in. Domain errors become messages on the page (`error`, `field_errors`), never a
    stack trace. The audience is looked up when the handler runs (the customer app declares its own)."""

    def sign_in(router: Any) -> str:
        spec = AUDIENCES.get(audience)
        if spec is None:
            return routes.LOGIN
        url = router.url
        here = (url.path.rstrip("/") or "/") + (f"?{url.query}" if url.query else "")
        if spec.returns_after_sign_in and here and here != spec.sign_in:
            return f"{spec.sign_in}?{urlencode({'next': here})}"
        return spec.sign_in

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            try:
                current = resolve(self.router, audience, request_id=uuid.uuid4().hex)
            except NotAuthenticated:
                return rx.redirect(sign_in(self.router))
            token = _current_actor.set(current)
            try:
                self.error = ""
                self.field_errors = {}
                return fn(self, *args, **kwargs)
            except ValidationFailed as exc:
                self.field_errors = dict(exc.fields)
                self.error = exc.message
            except NotAuthenticated:
                return rx.redirect(sign_in(self.router))
            except DomainError as exc:
                self.error = exc.message
            except Exception:  # a bug or a stale page: log it, show words, never a stack trace
                logger.exception("handler %s failed", fn.__qualname__)
                self.error = FAILED
            finally:
                _current_actor.reset(token)
            return None

        wrapper.__guarded__ = audience
        return wrapper

    return decorate
