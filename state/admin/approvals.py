"""The approval queue (承認待ち): filter, read the before -> after rows, approve or reject."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read.staff import approvals as approvals_queue
from services.workflow import approvals
from state.admin.shell import UiState
from state.feedback import MessagesMixin
from state.session import STAFF, actor, guarded


class ApprovalQueueState(MessagesMixin, rx.State):
    """Pending requests (with filters), the signed-in person's own requests, and decisions."""

    rows: list[dict[str, Any]] = []
    mine: list[dict[str, Any]] = []
    operations: list[dict[str, str]] = []
    requesters: list[dict[str, Any]] = []
    operation: str = ""
    requester_id: str = ""
    min_age_hours: str = ""
    decide_id: int = 0
    decide_kind: str = ""
    decide_summary: str = ""

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Expire overdue requests, then load the queue and the person's own requests."""
        approvals.expire_overdue()
        self.decide_id, self.decide_kind = 0, ""
        self._fetch()

    @rx.event
    @guarded(STAFF)
    def apply_filters(self, form: dict):
        """Filter the queue by type, requester and age."""
        self.operation = form.get("operation") or ""
        self.requester_id = form.get("requester_id") or ""
        self.min_age_hours = form.get("min_age_hours") or ""
        self._fetch()

    @rx.event
    @guarded(STAFF)
    def open_decision(self, request_id: int, kind: str):
        """Open the approve / reject dialog for one request."""
        row = next((r for r in self.rows if r["id"] == request_id), None)
        if row is None:
            self.error = "承認申請が見つかりません。一覧を更新してください。"
            return
        self.decide_id, self.decide_kind = request_id, "reject" if kind == "reject" else "approve"
        self.decide_summary = row["summary"]

    @rx.event
    @guarded(STAFF)
    def cancel_decision(self):
        """Close the dialog without deciding."""
        self.decide_id, self.decide_kind = 0, ""

    @rx.event
    @guarded(STAFF)
    def submit_decision(self, form: dict):
        """Approve (execute) or reject the request in the dialog."""
        row = next((r for r in self.rows if r["id"] == self.decide_id), None)
        if row is None:
            self.error = "承認申請が見つかりません。一覧を更新してください。"
            return
        reason = form.get("reason") or ""
        if self.decide_kind == "approve":
            approvals.approve_request(row["id"], actor=actor(), expected_hash=row["hash"], reason=reason)
            self.notice = f"承認申請 #{row['id']} を承認し、実行しました。"
        else:
            approvals.reject_request(row["id"], actor=actor(), reason=reason)
            self.notice = f"承認申請 #{row['id']} を却下しました。"
        self.decide_id, self.decide_kind = 0, ""
        self._fetch()
        return UiState.load_user

    def _fetch(self) -> None:
        current = actor()
        self.rows = approvals_queue.list_requests(
            actor=current, operation=self.operation or None,
            requester_id=int(self.requester_id) if self.requester_id.isdigit() else None,
            min_age_hours=int(self.min_age_hours) if self.min_age_hours.isdigit() else None,
        )
        self.mine = approvals_queue.list_requests(actor=current, status=None, mine=True, limit=30)
        self.requesters = approvals_queue.requesters(actor=current)
        self.operations = approvals.operation_choices()
