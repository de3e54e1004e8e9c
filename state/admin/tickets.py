"""Support tickets: the queue (問い合わせ一覧) and one ticket with its reply, status and assignment."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.ledger import tickets
from services.ledger.ticket_files import MAX_FILES_PER_MESSAGE, accepted_types_label
from services.ledger.tickets import TICKET
from services.models.support import TICKET_PRIORITIES, TicketStatus
from services.platform.labels import label, state_label
from services.platform.paging import Page
from services.platform.permissions import can
from services.read.staff import tickets as ticket_reads
from services.workflow import approvals
from state.admin.actions import LifecycleActionsMixin
from state.admin.paging import PagedListMixin
from state.feedback import int_param, require_offered
from state.session import STAFF, actor, guarded
from state.ticket_post import posted, posted_id, refusal

PAGE_SIZE = 25
FILTER_FIELDS = ("status", "priority", "assignee", "q")
ALL_STATES = "all"  # the status filter's "すべて"; "" is the default: the tickets still open


class TicketQueueState(PagedListMixin, rx.State):
    """The ticket queue: filters (state, priority, assignee, customer), one server page, and taking a ticket."""

    filters: dict[str, str] = {name: "" for name in FILTER_FIELDS}
    form_key: int = 0
    status_options: list[dict[str, str]] = [{"value": s.value, "label": state_label("ticket", s.value)}
                                            for s in TicketStatus]
    priority_options: list[dict[str, str]] = [{"value": p, "label": label("ticket_priority", p)}
                                              for p in reversed(TICKET_PRIORITIES)]
    assignees: list[dict[str, str]] = []  # the assignee filter's people: value (staff id) and label
    can_update: bool = False
    loaded: bool = False

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Open the queue with the filters in the URL (?status=&priority=&assignee=&q=&page=); without any,
        with the filters last used in this tab (at first: every open ticket)."""
        params = self.router.url.query_parameters
        current = actor()
        self.can_update = can(current, "ticket.update")
        self.assignees = [{"value": str(s["id"]), "label": f"{s['name']}（{s['role_label']}）"}
                          for s in ticket_reads.assignee_choices(actor=current)]
        page = self.page if self.loaded else 1
        if any(params.get(name) for name in (*FILTER_FIELDS, "page")):
            self.filters = {name: str(params.get(name) or "").strip() for name in FILTER_FIELDS}
            page = int_param(params.get("page", 1)) or 1
        self.loaded = False
        self.form_key += 1
        self._fetch(page)
        self.loaded = True

    @rx.event
    @guarded(STAFF)
    def apply_filters(self, form: dict):
        """Show the first page of the tickets matching the filter form."""
        previous = self.filters
        self.filters = {name: str(form.get(name) or "").strip() for name in FILTER_FIELDS}
        try:
            self._fetch(1)
        except Exception:
            self.filters = previous  # a refused filter leaves the list as it was
            raise

    @rx.event
    @guarded(STAFF)
    def clear_filters(self):
        """Back to the default: every open ticket, whoever it is assigned to."""
        self.filters = {name: "" for name in FILTER_FIELDS}
        self.form_key += 1
        self._fetch(1)

    @rx.event
    @guarded(STAFF)
    def assign_to_me(self, ticket_id: int):
        """Take a ticket on this page (担当者 = the signed-in person); the list is shown again."""
        row = next((r for r in self.rows if r["id"] == int_param(ticket_id)), None)
        require_offered(row is not None and bool(row["can_assign_me"]), f"TicketQueueState.assign_to_me({ticket_id!r})")
        current = actor()
        tickets.assign_ticket(row["id"], actor=current, assignee_id=current.id)
        self.notice = f"問い合わせ {row['code']}「{row['subject']}」の担当者になりました。"
        self._fetch(self.page)

    def _fetch(self, page: int) -> None:
        page = max(1, int_param(page))
        rows, total = self._query(page)
        last = max(1, -(-total // PAGE_SIZE))
        if page > last:  # the page emptied (tickets taken or closed meanwhile): show the last one
            page = last
            rows, total = self._query(page)
        self._show_page(Page(rows, page, PAGE_SIZE, total))

    def _query(self, page: int) -> tuple[list[dict[str, Any]], int]:
        f = self.filters
        return ticket_reads.ticket_queue(
            actor=actor(), status=None if f["status"] in ("", ALL_STATES) else f["status"],
            open_only=f["status"] == "", priority=f["priority"] or None, assignee=f["assignee"] or None,
            customer=f["q"], offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)


class TicketState(LifecycleActionsMixin, rx.State):
    """One support ticket: its conversation (internal notes marked, files listed), the reply to the customer or an
    internal note (社内メモ), files sent through the page's post, its state (each change confirmed with a reason)
    and its assignee."""

    can_update: bool = False
    can_assign_me: bool = False
    assignees: list[dict[str, str]] = []  # whom the ticket may be assigned to: value (staff id) and label
    reply_key: int = 0
    upload_key: int = 0
    files_help: str = f"{accepted_types_label()}。1つ5MBまで、{MAX_FILES_PER_MESSAGE}つまで。"

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the ticket in the URL."""
        self._open(int_param(self.router._page.params.get("ticket_id")))

    @rx.event
    @guarded(STAFF)
    def reply(self, form: dict):
        """Add a reply to the customer to the conversation, or with 社内メモ ticked an internal note no customer
        ever sees (sales, support, admin; not on a closed ticket)."""
        require_offered(self.loaded and self.can_update, "TicketState.reply")
        internal = form.get("internal") in (True, "on", "true", "1")
        tickets.add_ticket_message(self._record_id(), actor=actor(), body=form.get("body") or "", internal=internal)
        self.notice = ("社内メモを追加しました（お客様には表示されません）。" if internal
                       else "お客様への返信をやりとりに追加しました。")
        self.reply_key += 1  # empties the reply box
        self._refresh(self._record_id())

    @rx.event
    @guarded(STAFF)
    def after_upload(self, result: Any):
        """The post of a message with files came back (telecom_app.ticket_uploads): show the conversation again
        with it, or why it was refused."""
        require_offered(self.loaded and self.can_update, "TicketState.after_upload")
        done = posted(result)
        if done is not None and posted_id(done, "ticket_id") == self._record_id():
            self.upload_key += 1  # empties the files box
            self._refresh(self._record_id())
            self.notice = "ファイルを添付したメッセージを追加しました。"
            return
        self.error, self.field_errors = refusal(result)

    @rx.event
    @guarded(STAFF)
    def assign(self, form: dict):
        """Set the assignee chosen in the form ("" = nobody), from the active staff the page offered."""
        chosen = str(form.get("assignee_id") or "")
        require_offered(self.loaded and self.can_update and (chosen == "" or any(a["value"] == chosen for a in self.assignees)),
                        f"TicketState.assign({chosen!r})")
        tickets.assign_ticket(self._record_id(), actor=actor(), assignee_id=int(chosen) if chosen else None)
        self._refresh(self._record_id())
        name = self.data["ticket"]["assignee_name"]
        self.notice = f"担当者を{name}にしました。" if name else "担当者の割り当てを外しました。"

    @rx.event
    @guarded(STAFF)
    def assign_to_me(self):
        """Take this ticket (担当者 = the signed-in person)."""
        require_offered(self.loaded and self.can_assign_me, "TicketState.assign_to_me")
        current = actor()
        tickets.assign_ticket(self._record_id(), actor=current, assignee_id=current.id)
        self._refresh(self._record_id())
        self.notice = "この問い合わせの担当者になりました。"

    def _lifecycle(self) -> str:
        return "ticket"

    def _preview(self, event: str) -> dict | None:
        return None  # no ticket change waits for a second person

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        return approvals.Submitted(result=tickets.change_ticket_status(
            self._record_id(), actor=actor(), event=event, reason=form.get("reason") or ""))

    def _title(self) -> str:
        ticket = self.data["ticket"]
        return f"問い合わせ {ticket['code']}「{ticket['subject']}」"

    def _refresh(self, ticket_id: int) -> None:
        data: dict[str, Any] = ticket_reads.ticket_screen(ticket_id, actor=actor())
        self.data = data
        self.can_update, self.can_assign_me = data["can_update"], data["can_assign_me"]
        self.assignees = [{"value": str(s["id"]), "label": f"{s['name']}（{s['role_label']}）"} for s in data["assignees"]]
        self.actions = self._allowed_actions(TICKET, data["ticket"]["status"], lambda _ev: "ticket.update")
