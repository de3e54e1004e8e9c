"""The home screen: headline counts."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read.staff import views
from state.feedback import MessagesMixin
from state.session import STAFF, actor, guarded


class DashboardState(MessagesMixin, rx.State):
    """Home screen counts."""

    line_counts: list[dict[str, Any]] = []
    open_tickets: int = 0

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the headline numbers."""
        data = views.dashboard_counts(actor=actor())
        self.line_counts, self.open_tickets = data["lines"], data["open_tickets"]
