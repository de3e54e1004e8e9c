"""Support tickets: the queue (問い合わせ一覧) and one ticket with its conversation, reply, state and assignee."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.records import loading
from components.admin.shell import admin_shell
from components.i18n import t, tr
from components.ticket_post import file_picker, send_button
from components.widgets import confirm_dialog, form_label, kv, link, messages, pager, section, status_badge
from state.admin.tickets import TicketQueueState as Q
from state.admin.tickets import TicketState
from telecom_app import routes

PRIORITY_COLORS = {"high": "red", "normal": "gray", "low": "blue"}
_SELECT_STYLE = {
    "width": "100%", "height": "var(--space-6)", "padding": "0 0.5em", "font_size": "var(--font-size-2)",
    "border": "1px solid var(--gray-a7)", "border_radius": "var(--radius-2)", "background": "var(--color-surface)",
}
_WRAP = {"overflow_wrap": "anywhere", "min_width": "0"}  # long subjects and names wrap instead of widening a phone screen


def _label(target: str, text: str) -> rx.Component:
    """A label tied to the control with id `target` (a real <label for=...>: clicking it focuses the control)."""
    return form_label(tr(text), target)


def _field_error(errors, name: str) -> rx.Component:
    return rx.cond(errors.contains(name), rx.text(errors[name], color="red", size="2", data_error=name))


def _select(name: str, label: str, *options: rx.Component, default, errors) -> rx.Component:
    """A labelled native drop-down (the label is tied to it by id) with its error below."""
    return rx.vstack(
        _label(name, label),
        rx.el.select(*options, name=name, id=name, default_value=default, style=_SELECT_STYLE),
        _field_error(errors, name),
        spacing="1", width="100%",
    )


def priority_badge(priority, priority_label) -> rx.Component:
    """高 / 通常 / 低 as a coloured badge."""
    return rx.badge(priority_label, color_scheme=rx.match(priority, *PRIORITY_COLORS.items(), "gray"),
                    variant="outline", data_priority=priority)


# --------------------------------------------------------------------------- the queue


def _filter_form() -> rx.Component:
    f, errors = Q.filters, Q.field_errors
    return rx.form(
        rx.vstack(
            rx.grid(
                _select("status", "状態",
                        rx.el.option("未完了（未対応・対応中・お客様回答待ち）", value=""),
                        rx.el.option(tr("すべて"), value="all"),
                        rx.foreach(Q.status_options, lambda o: rx.el.option(o["label"], value=o["value"])),
                        default=f["status"], errors=errors),
                _select("priority", "優先度",
                        rx.el.option(tr("すべて"), value=""),
                        rx.foreach(Q.priority_options, lambda o: rx.el.option(o["label"], value=o["value"])),
                        default=f["priority"], errors=errors),
                _select("assignee", "担当者",
                        rx.el.option(tr("すべて"), value=""),
                        rx.el.option(tr("未割当"), value="none"),
                        rx.el.option(tr("自分"), value="me"),
                        rx.foreach(Q.assignees, lambda a: rx.el.option(a["label"], value=a["value"])),
                        default=f["assignee"], errors=errors),
                rx.vstack(
                    _label("q", "顧客名・顧客番号"),
                    rx.input(name="q", id="q", default_value=f["q"], type="search", width="100%",
                             placeholder="山田 / K-000123 / 090-1234-5678 / T-000123"),
                    _field_error(errors, "customer"),
                    spacing="1", width="100%",
                ),
                columns=rx.breakpoints(initial="1", sm="2", md="4"), spacing="3", width="100%",
            ),
            rx.flex(
                rx.button(rx.icon("filter"), tr("絞り込む"), type="submit", id="ticket-filter"),
                rx.button(tr("条件をクリア"), type="button", variant="soft", color_scheme="gray",
                          on_click=Q.clear_filters, id="ticket-filter-clear"),
                rx.text(Q.total, " 件", size="2", color="gray", id="ticket-count"),
                spacing="2", wrap="wrap", align="center",
            ),
            spacing="3", width="100%",
        ),
        key=Q.form_key, on_submit=Q.apply_filters, reset_on_submit=False, width="100%",
    )


def _queue_card(r) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.text(r["code"], size="1", color="gray", white_space="nowrap"),
                status_badge(r["status"], r["status_label"]),
                priority_badge(r["priority"], r["priority_label"]),
                spacing="2", wrap="wrap", align="center",
            ),
            rx.link(r["subject"], href=routes.admin_ticket(r["id"]), weight="bold", style=_WRAP,
                    data_ticket_link=r["id"]),
            rx.flex(
                rx.text(tr("顧客"), ": ", size="2", color="gray"),
                link(r["customer_name"], routes.admin_customer(r["customer_id"])),
                rx.text(r["customer_code"], size="1", color="gray"),
                spacing="1", wrap="wrap", align="center", style=_WRAP,
            ),
            rx.flex(
                rx.text(tr("担当者"), ": ",
                        rx.cond(r["assignee_name"] != "", r["assignee_name"], rx.text.em(tr("未割当"))),
                        size="2", data_assignee=r["id"]),
                rx.text(tr("最終更新"), ": ", r["updated_at"], size="2", color="gray"),
                spacing="3", wrap="wrap", style=_WRAP,
            ),
            rx.cond(r["can_assign_me"].to(bool), rx.button(
                rx.icon("user-check", size=16), tr("自分に割り当て"), size="2", variant="soft",
                on_click=Q.assign_to_me(r["id"].to(int)), data_assign_me=r["id"])),
            spacing="2", width="100%",
        ),
        width="100%", data_ticket=r["id"],
    )


def ticket_queue_page() -> rx.Component:
    """問い合わせ一覧: tickets by priority and waiting time, filtered, paged, each taken with one click."""
    return admin_shell(
        messages(Q),
        section("絞り込み", _filter_form()),
        rx.cond(Q.rows.length() > 0,
                rx.vstack(rx.foreach(Q.rows, _queue_card), spacing="3", width="100%", id="ticket-queue"),
                rx.cond(Q.loaded, rx.text(tr("該当する問い合わせはありません。"), color="gray", id="no-tickets"),
                        rx.text(t("loading")))),
        pager(Q, Q.go),
        title=t("ticket_queue"),
    )


# --------------------------------------------------------------------------- one ticket


def _assignment(tk) -> rx.Component:
    errors = TicketState.field_errors
    return rx.form(
        rx.vstack(
            _label("assignee_id", "担当者"),
            rx.el.select(
                rx.el.option(tr("未割当"), value=""),
                rx.foreach(TicketState.assignees, lambda a: rx.el.option(a["label"], value=a["value"])),
                name="assignee_id", id="assignee_id",
                default_value=rx.cond(tk["assignee_id"].to(int) != 0, tk["assignee_id"].to(str), ""),
                style=_SELECT_STYLE,
            ),
            _field_error(errors, "assignee_id"),
            rx.flex(
                rx.button(tr("担当者を変更"), type="submit", variant="outline", id="assign-submit"),
                rx.cond(TicketState.can_assign_me, rx.button(
                    rx.icon("user-check", size=16), tr("自分に割り当て"), type="button", variant="soft",
                    on_click=TicketState.assign_to_me, id="assign-me")),
                spacing="2", wrap="wrap",
            ),
            spacing="2", width="100%", max_width="560px",
        ),
        key=tk["assignee_id"].to(str) + "-" + TicketState.reply_key.to(str),
        on_submit=TicketState.assign, reset_on_submit=False, width="100%",
    )


def _internal_choice(box_id: str) -> rx.Component:
    """The 社内メモ tick box: what is written is then kept for staff only."""
    return rx.el.label(
        rx.el.input(type="checkbox", name="internal", id=f"{box_id}-internal",
                    style={"width": "20px", "height": "20px"}),
        rx.text(tr("社内メモとして保存（お客様には表示されません）"), size="2", weight="medium"),
        html_for=f"{box_id}-internal",
        style={"display": "flex", "gap": "0.5em", "align_items": "center", "min_height": "44px", "cursor": "pointer"},
    )


def _reply_form() -> rx.Component:
    errors = TicketState.field_errors
    return rx.form(
        rx.vstack(
            _label("reply-body", "お客様への返信"),
            rx.text_area(name="body", id="reply-body", required=True, rows="4", width="100%"),
            _field_error(errors, "body"),
            _internal_choice("reply"),
            rx.text(tr("返信はお客様に表示されます。社内向けのメモは「社内メモとして保存」を選んでください。"),
                    size="1", color="gray"),
            rx.button(rx.icon("send", size=16), tr("返信する"), type="submit", id="reply-submit"),
            spacing="2", width="100%",
        ),
        key=TicketState.reply_key, on_submit=TicketState.reply, reset_on_submit=False, width="100%",
    )


FILES_BOX = "ticket-files-box"


def _files_form(tk) -> rx.Component:
    """A message with files (the page's post to the staff ticket route): its text, 社内メモ or not, the files."""
    errors = TicketState.field_errors
    return rx.box(
        rx.vstack(
            _label("files-body", "ファイルと一緒に送るメッセージ"),
            rx.text_area(name="body", id="files-body", rows="2", width="100%"),
            _internal_choice("files"),
            _label("files-input", "添付ファイル"),
            file_picker("files-input", TicketState.files_help),
            _field_error(errors, "files"),
            send_button("ファイルを送信", FILES_BOX, TicketState.after_upload, "files-send", size="3"),
            spacing="2", width="100%",
        ),
        id=FILES_BOX, data_url=routes.ticket_messages(tk["id"]), key=TicketState.upload_key, width="100%",
    )


def _attachment(file) -> rx.Component:
    return rx.el.a(
        rx.icon("paperclip", size=14), file["name"], rx.text(file["size"], " ", file["type_label"], size="1",
                                                            color="gray"),
        href=routes.attachment(file["id"]), reload_document=True, download=True,
        style={"display": "flex", "gap": "0.4em", "align_items": "center", "min_height": "32px", **_WRAP},
        data_attachment=file["id"],
    )


def _message(m) -> rx.Component:
    internal = m["internal"].to(bool)
    return rx.card(
        rx.flex(
            rx.cond(internal, rx.badge(rx.icon("lock", size=12), tr("社内メモ"), color_scheme="amber",
                                       variant="solid")),
            rx.text(m["author"], " ・ ", m["at"], size="1", color="gray"),
            gap="2", align="center", wrap="wrap",
        ),
        rx.text(m["body"], white_space="pre-wrap", style=_WRAP),
        rx.foreach(m["attachments"].to(list[dict[str, Any]]), _attachment),
        width="100%", data_message=m["id"], data_author_kind=m["author_kind"], data_internal=internal,
        background=rx.cond(internal, "var(--amber-3)", "var(--color-panel)"),
        border=rx.cond(internal, "2px dashed var(--amber-8)", "none"),
    )


def ticket_page() -> rx.Component:
    """One support ticket: its records, assignee and state, the conversation and the reply to the customer."""
    d = TicketState.data
    tk = d["ticket"].to(dict[str, Any])
    customer = d["customer"].to(dict[str, Any])
    return admin_shell(
        rx.link(rx.hstack(rx.icon("arrow-left", size=16), t("ticket_queue"), spacing="1", align="center"),
                href=routes.ADMIN_TICKETS, id="back-to-queue"),
        messages(TicketState),
        loading(TicketState, rx.vstack(
            section(rx.flex(rx.text(tk["subject"].to(str), style=_WRAP),
                            status_badge(tk["status"].to(str), tk["status_label"].to(str)),
                            priority_badge(tk["priority"].to(str), tk["priority_label"].to(str)),
                            spacing="2", wrap="wrap", align="center", id="ticket-status"),
                rx.data_list.root(
                    kv("顧客", link(customer["name"].to(str), routes.admin_customer(customer["id"]))),
                    kv("契約", rx.cond(tk["contract_id"].to(int) != 0, link(tk["contract_code"].to(str), routes.admin_contract(tk["contract_id"])), "—")),
                    kv("回線", rx.cond(tk["line_id"].to(int) != 0, link(tk["msisdn"].to(str), routes.admin_line(tk["line_id"])), "—")),
                    rx.cond(tk["invoice_id"].to(int) != 0, kv("請求書", link(tk["invoice_no"].to(str),
                                                                         routes.admin_invoice(tk["invoice_id"])))),
                    kv("担当者", rx.cond(tk["assignee_name"].to(str) != "", tk["assignee_name"].to(str),
                                      rx.text.em(tr("未割当")))),
                    kv("受付日時", tk["created_at"].to(str)),
                    kv("最終更新", tk["updated_at"].to(str)),
                ),
                rx.cond(TicketState.actions.length() > 0, rx.flex(
                    rx.foreach(TicketState.actions, lambda a: rx.button(
                        a["label"], on_click=TicketState.ask(a["event"]), variant="outline", data_event=a["event"])),
                    spacing="2", wrap="wrap")),
                rx.cond(tk["closed"].to(bool), rx.text(
                    tr("クローズ済みの問い合わせには返信や担当者の変更はできません。"), size="2", color="gray")),
            ),
            rx.cond(TicketState.can_update, section("担当者", _assignment(tk))),
            section("やりとり", rx.foreach(d["messages"].to(list[dict[str, Any]]), _message),
                    rx.cond(TicketState.can_update, _reply_form()), id="conversation"),
            rx.cond(TicketState.can_update, section("ファイルを添付して送る", _files_form(tk))),
            confirm_dialog(TicketState, TicketState.confirm),
            spacing="4", width="100%",
        )),
        title=rx.cond(TicketState.loaded, "問い合わせ " + tk["code"].to(str), ""),
    )
