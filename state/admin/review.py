"""The review queue (要確認キュー): filters, and the recovery actions retry, re-sync and resolve."""

from __future__ import annotations

from datetime import date
from typing import Any

import reflex as rx

from services.ledger import lines
from services.operations import recovery
from services.platform.errors import Conflict
from services.platform.labels import state_label
from services.read.staff import review as review_queue
from services.workflow import daily_reconciliation
from state.admin.paging import PagedListMixin
from state.admin.shell import UiState
from state.feedback import MessagesMixin, int_param
from state.session import STAFF, actor, guarded

ACTIONS = {"retry": "再試行", "resolve": "解消"}



class ReviewQueueState(PagedListMixin, rx.State):
    """Review items (open or resolved, by kind), paged on the server, and the action dialog."""

    kinds: list[dict[str, str]] = []
    status: str = "open"
    kind: str = ""
    loaded: bool = False
    action: str = ""              # the open dialog: "retry" | "resolve" | ""
    action_label: str = ""
    action_item_id: int = 0
    action_summary: str = ""
    action_can_confirm_line: bool = False
    line_state_options: list[dict[str, str]] = [
        {"value": s, "label": state_label("line", s)} for s in lines.LINE_STATE_CHOICES]

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the queue as named in the URL (?status=open|resolved|all, ?kind=, ?page=)."""
        params = self.router.url.query_parameters
        status = params.get("status", "open")
        self.status = status if status in ("open", "resolved", "all") else "open"
        self.kind = params.get("kind", "")
        self.action, self.loaded = "", False
        self._fetch(int_param(params.get("page", 1)) or 1)
        self.loaded = True
        return DailyReconciliationState.load

    @rx.event
    @guarded(STAFF)
    def apply_filters(self, form: dict):
        """Show open or resolved items (or all) of one kind ("" = every kind)."""
        status = form.get("status") or "open"
        self.status = status if status in ("open", "resolved", "all") else "open"
        self.kind = form.get("kind") or ""
        self._fetch(1)

    @rx.event
    @guarded(STAFF)
    def open_action(self, item_id: int, action: str):
        """Open the retry or resolve dialog for one item (the reason is asked there)."""
        row = self._row(int_param(item_id))
        if row is None or action not in ACTIONS:
            self.error = "要確認の項目が見つかりません。一覧を更新してください。"
            return
        self.action, self.action_label, self.action_item_id = action, ACTIONS[action], row["id"]
        self.action_can_confirm_line = action == "resolve" and bool(row["can_confirm_line"])
        target = f"回線 {row['msisdn']}" if row["msisdn"] else f"要確認 #{row['id']}"
        if action == "retry":
            self.action_summary = (f"{row['operation_label']}（外部連携処理 #{row['operation_id']}、"
                                   f"{row['operation_status_label']}）を再試行します。{target}。")
        else:
            self.action_summary = f"要確認 #{row['id']}「{row['kind_label']}」を解消します。{target}。"

    @rx.event
    @guarded(STAFF)
    def cancel_action(self):
        """Close the dialog without changing anything."""
        self.action, self.action_item_id = "", 0

    @rx.event
    @guarded(STAFF)
    def submit_action(self, form: dict):
        """Retry the operation, or resolve the item (confirming the line's state asks for approval)."""
        row = self._row(self.action_item_id)
        if row is None or self.action not in ACTIONS:
            self.error = "要確認の項目が見つかりません。一覧を更新してください。"
            return None
        reason = form.get("reason") or ""
        if self.action == "retry":
            queued = recovery.retry_operation(row["operation_id"], actor=actor(), reason=reason)
            self.notice = (f"外部連携処理 #{queued.id} を同じ冪等キーで送信待ちに戻しました。"
                           if queued.id == row["operation_id"] else
                           f"失敗した外部連携処理 #{row['operation_id']} に代わり、新しい処理 #{queued.id} を送信待ちにしました。")
        else:
            line_state = (form.get("line_state") or "") if row["can_confirm_line"] else ""
            result = recovery.resolve_review_item(row["id"], actor=actor(), reason=reason,
                                                  line_state=line_state or None)
            self.notice = (f"承認申請 #{result.id} を作成しました。別の担当者が承認すると、回線の状態が"
                           f"「{state_label('line', line_state)}」として確定し、この項目が解消されます。"
                           if line_state else f"要確認 #{row['id']} を解消しました。")
        self.action, self.action_item_id = "", 0
        self._fetch(self.page)
        return UiState.load_user

    @rx.event
    @guarded(STAFF)
    def resync(self, item_id: int):
        """Ask the carrier about the item's operation now (再同期) and show what it answered."""
        row = self._row(int_param(item_id))
        if row is None or not row["operation_id"]:
            self.error = "要確認の項目が見つかりません。一覧を更新してください。"
            return None
        self.notice = recovery.resync_from_provider(row["operation_id"], actor=actor())
        self._fetch(self.page)
        return UiState.load_user

    def _row(self, item_id: int) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["id"] == item_id), None) if item_id else None

    def _fetch(self, page: int) -> None:
        current = actor()
        result = review_queue.list_review_items(actor=current, status=None if self.status == "all" else self.status,
                                            kind=self.kind or None, page=page)
        self._show_page(result)
        self.kinds = review_queue.review_kinds(actor=current)


class DailyReconciliationState(MessagesMixin, rx.State):
    """日次突合 on the review screen: the latest runs, and running one source's day again (再突合)."""

    runs: list[dict[str, Any]] = []
    sources: list[dict[str, str]] = []  # what the signed-in person may run again (empty: no 再突合)
    rerun_source: str = ""
    rerun_date: str = ""
    rerun_summary: str = ""       # the confirmation dialog is open while this is set
    waiting_run: str = ""         # "source|date" of the 再突合 this person queued, until its outcome is shown

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Show the latest runs and, for support and admin, the 再突合 form."""
        self.rerun_summary = ""
        self._fetch()

    @rx.event
    @guarded(STAFF)
    def refresh(self):
        """Show the runs as they are now (a queued 再突合 finishes in the background) and the queue's first page.

        Once the 再突合 this person queued has finished, the notice says how it went.
        """
        self._fetch()
        source, _, day = self.waiting_run.partition("|")
        done = next((r for r in self.runs if (r["source"], r["business_date"]) == (source, day)
                     and r["status"] in ("completed", "failed")), None)
        if done is not None:
            self.waiting_run = ""
            when = f"{done['source_label']} {day.replace('-', '/')}"
            self.notice = (f"{when}: 突合しました（{done['rows_checked']} 行を確認、新しい差異 {done['differences']} 件）。"
                           if done["status"] == "completed" else
                           f"{when}: 突合できませんでした（{done['error']}）。時間をおいて自動で再実行します。")
        return [UiState.load_user, ReviewQueueState.go(1)]

    @rx.event
    @guarded(STAFF)
    def ask_rerun(self, form: dict):
        """Check the chosen source and date, then open the confirmation dialog saying what will happen."""
        source, day = form.get("source") or "", _date(form.get("business_date"))
        label = next((s["label"] for s in self.sources if s["value"] == source), "")
        if not label:
            self.field_errors = {"source": "突合の対象を選んでください。"}
            return
        if day is None:
            self.field_errors = {"business_date": "日付を選んでください。"}
            return
        self.rerun_source, self.rerun_date = source, day.isoformat()
        self.rerun_summary = (f"{label}の{day:%Y/%m/%d}分を取り直して台帳と突き合わせます。"
                              "差異は要確認に登録します（登録済みの差異は重複して登録しません）。台帳は変更しません。")

    @rx.event
    @guarded(STAFF)
    def cancel_rerun(self):
        """Close the dialog without running anything."""
        self.rerun_summary = ""

    @rx.event
    @guarded(STAFF)
    def confirm_rerun(self, form: dict):
        """Queue the comparison again with the reason given; a worker runs it and the list shows its outcome."""
        day = _date(self.rerun_date)
        if not self.rerun_summary or day is None:
            self.error = "再突合の内容が見つかりません。もう一度選んでください。"
            return
        try:
            run = daily_reconciliation.run_again(self.rerun_source, day, actor=actor(),
                                                 reason=form.get("reason") or "")
        except Conflict as exc:  # already waiting or running: close the dialog and say so
            self.rerun_summary = ""
            self.error = exc.message
            self._fetch()
            return
        label = daily_reconciliation.source_label(run.source)
        self.notice = (f"{label} {day:%Y/%m/%d} の再突合を受け付けました（待機中）。"
                       "数秒から数十秒で終わります。「更新」で結果を表示します。差異は要確認キューに登録されます。")
        self.waiting_run = f"{run.source}|{day.isoformat()}"
        self.rerun_summary = ""
        self._fetch()

    def _fetch(self) -> None:
        current = actor()
        self.runs = review_queue.daily_run_rows(actor=current)
        self.sources = review_queue.daily_run_sources(actor=current)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        return None
