"""The staff shell around every back-office page: who is signed in, the queue counts, current
network incidents, and signing out."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.operations import incidents
from services.platform.permissions import ROLE_LABELS_JA
from services.read.staff import review as review_queue
from services.security import auth
from services.workflow import approvals
from state.feedback import MessagesMixin
from state.session import STAFF, actor, guarded, public, session_token
from state.session_scope import reset_tab
from telecom_app import routes


class UiState(MessagesMixin, rx.State):
    """The signed-in person's name and role, the approval and review counts, and current network
    incidents (障害・メンテナンス)."""

    user_label: str = ""
    role: str = ""
    role_label: str = ""
    pending_approvals: int = 0
    open_reviews: int = 0
    incidents: list[dict[str, Any]] = []  # outages and maintenance not yet over

    @rx.event
    @public
    async def sign_out(self):
        """End the session on the server and empty every state of this tab; then the API route clears
        the cookie and sign-in opens under a new tab token (the old one is dropped from the browser)."""
        auth.sign_out(session_token(self.router, STAFF))
        await reset_tab(self)
        return rx.call_script(
            "sessionStorage.removeItem('token');"
            f"fetch('{routes.API_SIGN_OUT}', {{method: 'POST', credentials: 'same-origin'}})"
            f".finally(() => window.location.replace('{routes.LOGIN}'))"
        )

    @rx.event
    @guarded(STAFF)
    def load_user(self):
        """Show who is signed in (re-read from the session on every page load)."""
        current = actor()
        self.pending_approvals = approvals.pending_count(actor=current)
        self.open_reviews = review_queue.open_review_count(actor=current)
        self.incidents = incidents.current_incidents(actor=current)
        self.user_label = current.label
        self.role = current.role.value if current.role else ""
        self.role_label = ROLE_LABELS_JA.get(current.role, "") if current.role else ""
