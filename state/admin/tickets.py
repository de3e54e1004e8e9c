"""One support ticket."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read.staff import views
from state.feedback import MessagesMixin, int_param
from state.session import STAFF, actor, guarded


class TicketState(MessagesMixin, rx.State):
    """One support ticket."""

    data: dict[str, Any] = {}
    loaded: bool = False

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the ticket in the URL."""
        self.loaded = False
        self.data = views.ticket_detail(int_param(self.router._page.params.get("ticket_id")), actor=actor())
        self.loaded = True
