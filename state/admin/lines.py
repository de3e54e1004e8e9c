"""Lines: the list and one line with the state changes the actor may make."""

from __future__ import annotations

import reflex as rx

from services.ledger import lines
from services.ledger.lines import LINE, LINE_EVENT_PERMISSIONS
from services.read.staff import views
from services.workflow import approvals
from state.admin.actions import LifecycleActionsMixin
from state.admin.paging import PagedListMixin
from state.feedback import int_param
from state.session import STAFF, actor, guarded


class LineState(LifecycleActionsMixin, rx.State):
    """One line: state, SIM, device, usage, history, and the state changes the actor may make."""

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the line in the URL and the events its state allows."""
        self._open(int_param(self.router._page.params.get("line_id")))

    def _lifecycle(self) -> str:
        return "line"

    def _preview(self, event: str) -> dict | None:
        return lines.preview_line_event(self._record_id(), event, actor=actor())

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        return lines.request_line_event(self._record_id(), event, actor=actor(), reason=form.get("reason") or "",
                                        confirm_word=form.get("confirm_word"),
                                        confirm_repeat=bool(form.get("confirm_repeat")))

    def _title(self) -> str:
        line = self.data["line"]
        return f"回線 {line['msisdn']}（契約 {line['contract_code']}、{self.data['customer']['name']}）"

    def _refresh(self, line_id: int) -> None:
        self.data = views.line_detail(line_id, actor=actor())
        # settling 要確認 by hand is done from the review queue (it needs an approval there)
        self.actions = [a for a in self._allowed_actions(LINE, self.data["line"]["status"], LINE_EVENT_PERMISSIONS.get)
                        if not a["event"].startswith("confirm_")]


class LineListState(PagedListMixin, rx.State):
    """All lines (or one customer's, or one state), paged on the server."""

    status: str = ""
    customer_id: int = 0

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the page named in the URL (?page=, ?status=, ?customer_id=)."""
        params = self.router.url.query_parameters
        self.status = params.get("status", "")
        self.customer_id = int_param(params.get("customer_id", 0))
        self._fetch(int_param(params.get("page", 1)) or 1)

    @rx.event
    @guarded(STAFF)
    def filter_status(self, status: str):
        """Show only lines in one state ("" = all)."""
        self.status = status
        self._fetch(1)

    def _fetch(self, page: int) -> None:
        self._show_page(views.list_lines(actor=actor(), page=page, status=self.status or None,
                                    customer_id=self.customer_id or None))
