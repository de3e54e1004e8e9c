"""督促: the unpaid invoices being chased, the step each is at, and what happens next."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import dunning
from state.feedback import MessagesMixin
from state.session import STAFF, actor, guarded


class DunningState(MessagesMixin, rx.State):
    """The dunning list (open and suspended first), with the policy's steps for reference."""

    rows: list[dict[str, Any]] = []
    status: str = ""
    steps: list[dict[str, str]] = [
        {"days": f"{s.days}日目", "title": s.title.replace("{invoice_no}", "請求書番号").replace("{deadline}", "期限"),
         "action": "回線の利用停止（督促ポリシーによる自動承認）" if s.suspend else "お知らせ（メール・LINE・アプリ内）"}
        for s in dunning.STEPS]

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the cases (?status= to filter)."""
        self.status = self.router.url.query_parameters.get("status", "")
        self.rows = dunning.dunning_cases(actor=actor(), status=self.status or None)

    @rx.event
    @guarded(STAFF)
    def filter(self, status: str):
        """Show one status (or all)."""
        self.status = status if status in ("", "open", "suspended", "paid", "closed") else ""
        self.rows = dunning.dunning_cases(actor=actor(), status=self.status or None)
