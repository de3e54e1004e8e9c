"""口座振替: the withdrawal files — writing one for a withdrawal day, sending it to the bank, reading the result —
and a customer's mandate (registered on the customer's page)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import direct_debit
from services.platform.clock import today_in_tokyo
from services.platform.permissions import can
from state.feedback import MessagesMixin, require_offered
from state.session import STAFF, actor, guarded


class DirectDebitState(MessagesMixin, rx.State):
    """The files, newest first, and one file's lines with the bank's answers."""

    batches: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    shown_batch: int = 0
    can_manage: bool = False
    default_date: str = ""

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the files."""
        self.can_manage = can(actor(), "payment.manage")
        self.default_date = today_in_tokyo().isoformat()
        self._refresh()

    def _refresh(self) -> None:
        self.batches = direct_debit.batches(actor=actor())
        if self.shown_batch:
            self.items = direct_debit.batch_items(self.shown_batch, actor=actor())

    @rx.var
    def sending(self) -> bool:
        """A file is on its way to the bank: the page refreshes itself until the bank took it."""
        return any(b["sending"] for b in self.batches)

    def _batch(self, batch_id: int) -> dict[str, Any] | None:
        return next((b for b in self.batches if b["id"] == batch_id), None)

    @rx.event
    @guarded(STAFF)
    def create(self, form: dict):
        """Write the file for a withdrawal day (moved to the next bank business day)."""
        require_offered(self.can_manage, "DirectDebitState.create")
        batch = direct_debit.create_batch(actor=actor(), withdrawal_date=form.get("withdrawal_date") or "")
        self.notice = (f"引落日 {batch.withdrawal_date:%Y/%m/%d} の口座振替データを作成しました"
                       f"（{batch.item_count}件 {batch.total_amount:,}円）。内容を確認して銀行へ送信してください。")
        self.shown_batch = batch.id
        self._refresh()

    @rx.event
    @guarded(STAFF)
    def show(self, batch_id: int):
        """Show one file's lines."""
        require_offered(self._batch(batch_id) is not None, "DirectDebitState.show")
        self.shown_batch = batch_id
        self.items = direct_debit.batch_items(batch_id, actor=actor())

    @rx.event
    @guarded(STAFF)
    def submit(self, batch_id: int):
        """Send a file to the bank (through the outbox; sending twice sends once)."""
        row = self._batch(batch_id)
        require_offered(self.can_manage and row is not None and row["can_submit"], "DirectDebitState.submit")
        direct_debit.submit_batch(batch_id, actor=actor())
        self.notice = "銀行へ送信しています。銀行が受け付けると状態が「銀行へ送信済」になり、振替結果を取り込めます。"
        self._refresh()

    @rx.event
    @guarded(STAFF)
    def import_result(self, batch_id: int):
        """Fetch the bank's result for a sent file and record it (payments, or dunning for 振替不能)."""
        row = self._batch(batch_id)
        require_offered(self.can_manage and row is not None and row["can_import"], "DirectDebitState.import_result")
        batch = direct_debit.import_result(batch_id, actor=actor())
        self.notice = (f"振替結果を取り込みました: 振替済 {batch.collected_count}件・振替不能 {batch.failed_count}件。"
                       "振替不能のお客様には督促の最初のお知らせが届きます。")
        self.shown_batch = batch_id
        self._refresh()

    @rx.event
    @guarded(STAFF)
    def refresh(self):
        """Read the files again."""
        self._refresh()
