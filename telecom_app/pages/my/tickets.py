"""/my/tickets: the person's questions (問い合わせ) and a new one about a line or a bill, with files;
/my/tickets/[ticket_id]: one question's conversation (never staff's internal notes), its files, and the reply.

Phone first: one column, every control at least 48 px tall, long words wrap instead of widening the page.
"""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from components.my.shell import my_shell
from components.ticket_post import TOUCH, file_picker, send_button
from components.widgets import form_label, messages, status_badge
from state.my.tickets import MyTicketsState, MyTicketState
from telecom_app import routes

_WRAP = {"overflow_wrap": "anywhere", "min_width": "0"}
_SELECT = {"width": "100%", "min_height": TOUCH, "padding": "0 0.5em", "font_size": "16px",
           "border": "1px solid var(--gray-a7)", "border_radius": "var(--radius-2)",
           "background": "var(--color-surface)", "color": "inherit"}
NEW_BOX = "new-ticket"
REPLY_BOX = "ticket-reply"


def _error(errors: rx.Var, name: str) -> rx.Component:
    return rx.cond(errors.contains(name), rx.text(errors[name], color="red", size="2", data_error=name))


def _new_ticket_form() -> rx.Component:
    errors = MyTicketsState.field_errors
    return rx.box(
        rx.vstack(
            form_label(tr("件名"), "ticket-subject"),
            rx.input(name="subject", id="ticket-subject", max_length=200, size="3", width="100%",
                     min_height=TOUCH, font_size="16px"),
            _error(errors, "subject"),
            form_label(tr("お問い合わせの対象"), "ticket-topic"),
            rx.el.select(
                rx.el.option(tr("選んでください"), value=""),
                rx.foreach(MyTicketsState.topics, lambda o: rx.el.option(o["label"], value=o["value"])),
                name="topic", id="ticket-topic", style=_SELECT,
            ),
            _error(errors, "topic"), _error(errors, "about"),
            form_label(tr("お問い合わせ内容"), "ticket-body"),
            rx.text_area(name="body", id="ticket-body", rows="5", width="100%", font_size="16px"),
            _error(errors, "body"),
            form_label(tr("添付ファイル（任意）"), "ticket-files"),
            file_picker("ticket-files", MyTicketsState.files_help),
            _error(errors, "files"),
            send_button("送信する", NEW_BOX, MyTicketsState.after_send, "ticket-send", width="100%"),
            spacing="2", width="100%",
        ),
        id=NEW_BOX, data_url=routes.API_MY_TICKETS, key=MyTicketsState.form_key, width="100%",
    )


def _ticket_row(tk: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.flex(rx.text(tk["code"], size="1", color="var(--gray-11)"), rx.spacer(),
                        status_badge(tk["status"], tk["status_label"]), width="100%", align="center"),
                rx.text(tk["subject"], weight="bold", style=_WRAP),
                rx.text(tk["about"], size="2", color="var(--gray-11)", style=_WRAP),
                rx.text(tr("最終更新"), ": ", tk["updated_at"], size="1", color="var(--gray-11)"),
                spacing="1", width="100%",
            ),
            width="100%",
        ),
        href=routes.my_ticket(tk["id"]), underline="none", color="inherit", width="100%",
        id=f"ticket-{tk['id']}",
    )


def my_tickets_page() -> rx.Component:
    """The person's questions, newest change first, and the form for a new one."""
    return my_shell(
        t("my_tickets"),
        messages(MyTicketsState),
        rx.card(
            rx.vstack(
                rx.heading(tr("新しい問い合わせ"), size="3", as_="h2"),
                rx.cond(MyTicketsState.topics.length() > 0, _new_ticket_form(),
                        rx.text(tr("お問い合わせの対象となる回線・請求書がありません。"), size="2")),
                spacing="3", width="100%",
            ),
            width="100%",
        ),
        rx.heading(tr("これまでの問い合わせ"), size="3", as_="h2"),
        rx.cond(MyTicketsState.tickets.length() > 0,
                rx.vstack(rx.foreach(MyTicketsState.tickets, _ticket_row), spacing="2", width="100%",
                          id="my-tickets"),
                rx.text(tr("問い合わせはまだありません。"), size="2")),
    )


def _attachment(file: rx.Var) -> rx.Component:
    return rx.el.a(
        rx.icon("paperclip", size=16), rx.text(file["name"], style=_WRAP), rx.text(file["size"], size="1",
                                                                                   color="var(--gray-11)"),
        href=routes.my_attachment(file["id"]), reload_document=True, download=True,
        style={"display": "flex", "gap": "0.5em", "align_items": "center", "min_height": "44px", **_WRAP},
        data_attachment=file["id"],
    )


def _message(m: rx.Var) -> rx.Component:
    ours = m["author_kind"] == "customer"
    return rx.box(
        rx.text(m["author"], " ・ ", m["at"], size="1", color="var(--gray-11)"),
        rx.text(m["body"], white_space="pre-wrap", style=_WRAP),
        rx.foreach(m["attachments"].to(list[dict]), _attachment),
        padding="0.75em", border_radius="var(--radius-3)", width="100%",
        background=rx.cond(ours, "var(--accent-3)", "var(--gray-3)"),
        margin_left=rx.cond(ours, "1.5em", "0"), max_width=rx.cond(ours, "calc(100% - 1.5em)", "100%"),
        data_message=m["id"], data_author_kind=m["author_kind"],
    )


def _reply_form() -> rx.Component:
    errors = MyTicketState.field_errors
    return rx.box(
        rx.vstack(
            form_label(tr("返信"), "reply-body"),
            rx.text_area(name="body", id="reply-body", rows="4", width="100%", font_size="16px"),
            _error(errors, "body"),
            form_label(tr("添付ファイル（任意）"), "reply-files"),
            file_picker("reply-files", MyTicketState.files_help),
            _error(errors, "files"),
            send_button("返信を送信する", REPLY_BOX, MyTicketState.after_send, "reply-send", width="100%"),
            spacing="2", width="100%",
        ),
        id=REPLY_BOX, data_url=routes.my_ticket_messages(MyTicketState.ticket["id"]), key=MyTicketState.reply_key,
        width="100%",
    )


def my_ticket_page() -> rx.Component:
    """One question: its state, what it is about, the conversation with its files, and the reply."""
    tk = MyTicketState.ticket
    return my_shell(
        rx.cond(tk.contains("id"), tk["subject"].to(str), t("my_tickets")),
        rx.link(rx.hstack(rx.icon("arrow-left", size=16), tr("問い合わせ一覧へ"), spacing="1", align="center"),
                href=routes.MY_TICKETS, id="back-to-tickets", min_height="44px", display="flex",
                align_items="center"),
        messages(MyTicketState),
        rx.cond(
            tk.contains("id"),
            rx.vstack(
                rx.flex(rx.text(tk["code"], size="2", color="var(--gray-11)"),
                        status_badge(tk["status"], tk["status_label"]),
                        rx.text(tk["about"], size="2", style=_WRAP),
                        gap="2", wrap="wrap", align="center", width="100%", id="ticket-status"),
                rx.vstack(rx.foreach(MyTicketState.messages, _message), spacing="2", width="100%",
                          id="conversation"),
                rx.cond(tk["can_reply"].to(bool), rx.card(_reply_form(), width="100%"),
                        rx.text(tr("この問い合わせは終了しています。別のご用件は新しい問い合わせでお送りください。"),
                                size="2")),
                spacing="3", width="100%",
            ),
        ),
    )
