"""A tab's state belongs to the session it was loaded under, and to nobody else.

Reflex keeps each tab's state on the server under a per-tab token that travels in the websocket
URL; whoever presents the token gets that state. So before every event — the page load included —
`SessionScopeMiddleware` compares the session the state was loaded under with the session of the
request (the HttpOnly cookie, checked against the server-side session: signed out, expired, ended
by an admin or absent all count as "no session"). When they differ, every state of the tab is put
back to its defaults before anything runs or is sent, and the difference is sent to the browser,
so its memory is cleared too. Signing out resets the tab at once and replaces its token.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import reflex as rx
from reflex.middleware import Middleware

from services.platform.errors import NotAuthenticated
from state.session import AUDIENCES, resolve

APP_STATE_PACKAGE = "state."


class SessionScope(rx.State):
    """Which session this tab's state was loaded under (backend only, never sent to the browser)."""

    _bound: str = ""


def session_key(router: Any) -> str:
    """The request's live sessions as "staff:<session id>" (one part per audience signed in), or "" when
    there is none."""
    keys = []
    for audience in sorted(AUDIENCES):
        try:
            current = resolve(router, audience)
        except NotAuthenticated:
            continue
        keys.append(f"{current.kind}:{current.session_id}")
    return " ".join(keys)


@lru_cache(maxsize=1)
def app_state_classes() -> tuple[type[rx.State], ...]:
    """Every state class of the app (Reflex's own states excluded)."""
    found, pending = [], list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        if cls.__module__.startswith(APP_STATE_PACKAGE):
            found.append(cls)
    return tuple(sorted(found, key=lambda c: c.get_full_name()))


async def reset_tab(root: rx.State) -> None:
    """Put every app state of the tab back to its defaults (display preferences kept in cookies stay)."""
    for cls in app_state_classes():
        state = await root.get_state(cls)
        for name, field in cls.get_fields().items():
            if field._owner is cls and not cls._is_client_storage(field):
                setattr(state, name, field.default_value())


class SessionScopeMiddleware(Middleware):
    """Before each event: a tab loaded under another session (or none) is reset first."""

    async def preprocess(self, app: Any, state: rx.State, event: Any) -> None:
        """Reset the tab when the request's session is not the one its state was loaded under."""
        root = state._get_root_state()
        scope = await root.get_state(SessionScope)
        current = session_key(root.router)
        if scope._bound != current:
            await reset_tab(root)
            scope._bound = current
        return None
