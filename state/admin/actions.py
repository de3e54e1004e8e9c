"""Actions behind a confirmation dialog, and the buttons a record's lifecycle allows."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.platform.labels import EVENT_LABELS_JA
from services.platform.lifecycle import Lifecycle
from services.platform.permissions import can
from state.feedback import MessagesMixin, require_offered
from state.session import STAFF, actor, guarded


class ConfirmDialogMixin(MessagesMixin, mixin=True):
    """An action behind a confirmation dialog that states what will happen and asks for a reason.

    The page does not decide whether an action runs now or waits for a second person: the one service
    call of the action does (services.workflow.approvals.submit), and its preview says so. Irreversible
    actions ask the user to type a confirmation word; duplicates are warned about (and refused by the
    service). Subclasses name the events the page offers now (`_offered`: nothing else is asked or
    confirmed), an event's label, its preview (`_preview`: None for an action that runs at once) and the
    one service call that carries it out (`_submit`).
    """

    pending_event: str = ""
    pending_label: str = ""
    pending_summary: str = ""
    pending_changes: list[dict[str, str]] = []
    pending_warnings: list[str] = []
    confirm_word: str = ""
    needs_approval: bool = False

    @rx.event
    @guarded(STAFF)
    def ask(self, event: str):
        """Open the confirmation dialog for an action the page offers, with its preview and duplicate warnings."""
        require_offered(event in self._offered(), f"{type(self).__name__}.ask({event!r})")
        label = self._event_label(event)
        preview = self._preview(event)
        self.needs_approval = preview is not None
        self.pending_changes, self.pending_warnings, self.confirm_word = [], [], ""
        if preview is not None:
            self.pending_summary = preview["summary"]
            self.pending_changes = preview["changes"]
            self.pending_warnings = preview["blocking"] + preview["warnings"]
            self.confirm_word = preview["confirm_word"]
        else:
            self.pending_summary = self._direct_summary(event, label)
        self.pending_event, self.pending_label = event, label

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close the confirmation dialog without changing anything."""
        self.pending_event, self.pending_label = "", ""

    @rx.event
    @guarded(STAFF)
    def confirm(self, form: dict):
        """Do the confirmed action (or ask for its approval), then show the record again."""
        event, label = self.pending_event, self.pending_label
        require_offered(bool(event) and event in self._offered(), f"{type(self).__name__}.confirm({event!r})")
        outcome = self._submit(event, form)
        if outcome.request is not None:
            self.notice = f"承認申請 #{outcome.request.id}（{label}）を作成しました。別の担当者が承認すると実行されます。"
        else:
            self.notice = f"{label}を記録しました。"
        self.pending_event, self.pending_label = "", ""
        self._after_change()


class LifecycleActionsMixin(ConfirmDialogMixin, mixin=True):
    """Buttons for the events a record's state allows (its lifecycle table), each confirmed."""

    data: dict[str, Any] = {}
    actions: list[dict[str, str]] = []
    loaded: bool = False

    def _offered(self) -> set[str]:
        return {a["event"] for a in self.actions}

    def _direct_summary(self, event: str, label: str) -> str:
        return f"{self._title()}を「{label}」します。"

    def _event_label(self, event: str) -> str:
        return EVENT_LABELS_JA[self._lifecycle()].get(event, event)

    def _record_id(self) -> int:
        return self.data[self._lifecycle()]["id"]

    def _after_change(self) -> None:
        self._refresh(self._record_id())

    def _open(self, record_id: int) -> None:
        self.loaded, self.notice = False, ""
        self.pending_event, self.pending_label = "", ""
        self._refresh(record_id)
        self.loaded = True

    def _allowed_actions(self, lifecycle: Lifecycle, status: str, permission_of) -> list[dict[str, str]]:
        current = actor()
        return [{"event": ev.value, "label": EVENT_LABELS_JA[lifecycle.name][ev.value]}
                for ev in lifecycle.allowed_events(status) if can(current, permission_of(ev))]
