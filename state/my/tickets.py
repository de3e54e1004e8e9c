"""The customer's tickets (問い合わせ): the list with the new-ticket form, and one ticket's conversation and reply.

Sending goes through the page's small fetch() to telecom_app.ticket_uploads (text and files in one post, one
service call); these states load what the services let the person see and turn the post's answer into words.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.ledger.ticket_files import MAX_FILES_PER_MESSAGE, accepted_types_label
from services.read.customer import tickets as ticket_reads
from state.feedback import MessagesMixin, int_param
from state.session import CUSTOMER, actor, guarded
from state.ticket_post import posted, posted_id, refusal
from telecom_app import routes

FILES_HELP = f"{accepted_types_label()}。1つ5MBまで、{MAX_FILES_PER_MESSAGE}つまで添付できます。"


class MyTicketsState(MessagesMixin, rx.State):
    """The tickets the person may see, and what a new one may be about."""

    tickets: list[dict[str, Any]] = []
    topics: list[dict[str, str]] = []  # {value: "line:<id>" | "invoice:<id>", label}
    form_key: int = 0
    files_help: str = FILES_HELP

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the person's tickets and the lines / bills a new one may name."""
        self.tickets, self.topics = [], []
        current = actor()
        self.tickets = ticket_reads.my_tickets(actor=current)
        self.topics = ticket_reads.ticket_topics(actor=current)

    @rx.event
    @guarded(CUSTOMER)
    def after_send(self, result: Any):
        """The new ticket's post came back: open the ticket, or show why it was refused."""
        done = posted(result)
        if done is not None and posted_id(done, "ticket_id"):
            self.form_key += 1
            return rx.redirect(routes.my_ticket(posted_id(done, "ticket_id")))
        self.error, self.field_errors = refusal(result)
        return None


class MyTicketState(MessagesMixin, rx.State):
    """One ticket: its conversation without internal notes, and the reply box."""

    ticket: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    reply_key: int = 0
    files_help: str = FILES_HELP

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the ticket in the URL (another company's or an unknown id: 見つかりません)."""
        self.ticket, self.messages = {}, []
        self._show(int_param(self.router._page.params.get("ticket_id")))

    @rx.event
    @guarded(CUSTOMER)
    def after_send(self, result: Any):
        """The reply's post came back: show the conversation again with it, or why it was refused."""
        shown = int_param(self.ticket.get("id"))
        done = posted(result)
        if done is not None and shown and posted_id(done, "ticket_id") == shown:
            self.reply_key += 1  # empties the reply box and the file picker
            self._show(shown)
            self.notice = "返信を送信しました。"
            return
        self.error, self.field_errors = refusal(result)

    def _show(self, ticket_id: int) -> None:
        data = ticket_reads.my_ticket(ticket_id, actor=actor())
        self.messages = data.pop("messages")
        self.ticket = data
