"""Session plumbing shared by every state: who is signed in, guarded handlers, error display.

The session token lives in an HttpOnly cookie that page JavaScript cannot read; the browser
sends it with the websocket connection, and every guarded handler re-derives the actor from
it on the server (services.security.auth.resolve_session) before doing anything.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

import reflex as rx

from services.operations import incidents
from services.platform.errors import DomainError, NotAuthenticated, ValidationFailed
from services.platform.permissions import ROLE_LABELS_JA, Actor
from services.read.staff import review as review_queue
from services.security import auth
from services.workflow import approvals
from state.session_scope import reset_tab, session_token

logger = logging.getLogger(__name__)
_current_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("current_actor", default=None)

# Handlers that may run without a session (signing in, switching language).
PUBLIC_HANDLERS: set[str] = set()


def public(fn: Callable) -> Callable:
    """Mark a handler as deliberately reachable without a session."""
    PUBLIC_HANDLERS.add(f"{fn.__module__}.{fn.__qualname__}")
    return fn


NOT_OFFERED = "この操作はこの画面では選べません。ページを再読み込みしてからやり直してください。"


class NotOffered(DomainError):
    """An event for something the page never offered (no pending action, a record not on the page)."""


def require_offered(offered: bool, what: str) -> None:
    """Refuse, before any service is called, an event the page did not offer (logged: a forged client)."""
    if not offered:
        logger.warning("refused an event the page did not offer: %s", what)
        raise NotOffered(NOT_OFFERED)


def actor() -> Actor:
    """The actor of the running guarded handler (set by @guarded)."""
    current = _current_actor.get()
    if current is None:
        raise NotAuthenticated()
    return current


def guarded(fn: Callable) -> Callable:
    """Wrap a handler: resolve the actor from the server-side session or send the user to sign in.

    Domain errors become messages on the page (`error`, `field_errors`), never a stack trace.
    """

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            current = auth.resolve_session(session_token(self.router), request_id=uuid.uuid4().hex)
        except NotAuthenticated:
            return rx.redirect("/login")
        token = _current_actor.set(current)
        try:
            self.error = ""
            self.field_errors = {}
            return fn(self, *args, **kwargs)
        except ValidationFailed as exc:
            self.field_errors = dict(exc.fields)
            self.error = exc.message
        except NotAuthenticated:
            return rx.redirect("/login")
        except DomainError as exc:
            self.error = exc.message
        except Exception:  # a bug or a stale page: log it, show words, never a stack trace
            logger.exception("handler %s failed", fn.__qualname__)
            self.error = "処理できませんでした。ページを再読み込みしてからやり直してください。"
        finally:
            _current_actor.reset(token)
        return None

    wrapper.__guarded__ = True
    return wrapper


class MessagesMixin(rx.State, mixin=True):
    """Error and notice vars that guarded handlers fill."""

    error: str = ""
    notice: str = ""
    field_errors: dict[str, str] = {}


class UiState(MessagesMixin, rx.State):
    """Display preferences (language), the signed-in person's name and role, and current network incidents."""

    lang: str = rx.Cookie("ja", name="tsm_lang", same_site="lax")
    user_label: str = ""
    role: str = ""
    role_label: str = ""
    pending_approvals: int = 0
    open_reviews: int = 0
    incidents: list[dict[str, Any]] = []  # outages and maintenance not yet over (障害・メンテナンス)

    @rx.event
    @public
    def set_lang(self, lang: str):
        """Switch the UI language (ja / en)."""
        self.lang = "en" if lang == "en" else "ja"

    @rx.event
    @public
    async def sign_out(self):
        """End the session on the server and empty every state of this tab; then the API route clears
        the cookie and sign-in opens under a new tab token (the old one is dropped from the browser)."""
        auth.sign_out(session_token(self.router))
        await reset_tab(self)
        return rx.call_script(
            "sessionStorage.removeItem('token');"
            "fetch('/api/auth/signout', {method: 'POST', credentials: 'same-origin'})"
            ".finally(() => window.location.replace('/login'))"
        )

    @rx.event
    @guarded
    def load_user(self):
        """Show who is signed in (re-read from the session on every page load)."""
        current = actor()
        self.pending_approvals = approvals.pending_count(actor=current)
        self.open_reviews = review_queue.open_review_count(actor=current)
        self.incidents = incidents.current_incidents(actor=current)
        self.user_label = current.label
        self.role = current.role.value if current.role else ""
        self.role_label = ROLE_LABELS_JA.get(current.role, "") if current.role else ""
