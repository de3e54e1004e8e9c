"""The customer's home: each line they may see, this month's data against the cap, day by day."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read.customer import home
from state.feedback import MessagesMixin
from state.session import CUSTOMER, actor, guarded


class MyHomeState(MessagesMixin, rx.State):
    """The lines on the home page."""

    lines: list[dict[str, Any]] = []

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the signed-in person's lines (a 利用者 only theirs)."""
        self.lines = home.my_lines(actor=actor())
