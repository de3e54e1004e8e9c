"""The notification centre: in-app notices, newest first; opening one marks it read and goes to its page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import reflex as rx

from services.ledger import notices_read
from services.read.customer import notices
from state.feedback import MessagesMixin, int_param, require_offered
from state.my.shell import MyShellState
from state.session import CUSTOMER, actor, guarded
from telecom_app import routes


def _in_app_path(link: str) -> str:
    """The /my page of a notice's link (a notice never sends anyone to another site). A permalink /go/<kind>/<key>
    is resolved here to its page (routes.my_record): /go is an HTTP route, which a redirect inside the app would
    not reach."""
    path = urlparse(link).path if link else ""
    if path.startswith("/go/"):
        kind, _, key = path.removeprefix("/go/").partition("/")
        return routes.my_record(kind, key if key.replace("-", "").replace("_", "").isalnum() else "")
    return path if routes.is_my_path(path) else ""


class MyNoticesState(MessagesMixin, rx.State):
    """The notices the signed-in person may see."""

    notices: list[dict[str, Any]] = []

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the latest notices."""
        self.notices = notices.my_notifications(actor=actor())

    @rx.event
    @guarded(CUSTOMER)
    def open(self, notification_id: Any):
        """Mark a notice read and open its next action (only a notice shown on this page)."""
        wanted = int_param(notification_id)
        shown = next((n for n in self.notices if n["id"] == wanted), None)
        require_offered(shown is not None, "MyNoticesState.open")
        notices_read.mark_read(wanted, actor=actor())
        self.notices = notices.my_notifications(actor=actor())
        target = _in_app_path(shown["link"])
        return rx.redirect(target) if target else MyShellState.load  # the unread count follows
