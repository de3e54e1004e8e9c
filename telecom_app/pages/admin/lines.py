"""Lines: the paged list and one line with its SIM, device, usage and history."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.operations import operation_history
from components.admin.records import LINE_HEADERS, history, line_row, loading
from components.admin.shell import admin_shell
from components.i18n import t, tr
from components.widgets import confirm_dialog, kv, link, messages, pager, section, status_badge, table
from state.admin.lines import LineListState, LineState
from telecom_app import routes

_STATUS_FILTERS = [("", "すべて"), ("active", "利用中"), ("suspended", "停止中"), ("applying", "申請中"),
                   ("pending", "保留"), ("needs_review", "要確認"), ("terminated", "解約済")]


def lines_page() -> rx.Component:
    """All lines (filter by state), paged on the server."""
    return admin_shell(
        messages(LineListState),
        rx.flex(*[rx.button(tr(label), size="1", variant=rx.cond(LineListState.status == value, "solid", "soft"),
                            on_click=LineListState.filter_status(value)) for value, label in _STATUS_FILTERS],
                spacing="2", wrap="wrap"),
        table(LINE_HEADERS, LineListState.rows, line_row),
        pager(LineListState, LineListState.go),
        title=t("lines"),
    )


def line_page() -> rx.Component:
    """One line: current state, contract and customer, SIM and device, usage, and its history."""
    d = LineState.data
    ln = d["line"].to(dict[str, Any])
    return admin_shell(
        messages(LineState),
        loading(LineState, rx.vstack(
            section(rx.hstack(rx.text(ln["msisdn"].to(str)), status_badge(ln["status"].to(str), ln["status_label"].to(str)),
                              rx.cond(ln["throttled"].to(bool), rx.badge("速度制限中", color_scheme="orange",
                                                                         variant="soft", id="line-throttled")),
                              id="line-status"),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), routes.admin_customer(d["customer"].to(dict[str, Any])["id"]))),
                    kv("契約", link(d["contract"].to(dict[str, Any])["code"].to(str), routes.admin_contract(d["contract"].to(dict[str, Any])["id"]))),
                    kv("料金プラン", d["plan"].to(dict[str, Any])["name"].to(str)),
                    kv("ICCID", ln["iccid"].to(str)), kv("IMSI", ln["imsi"].to(str)),
                    kv("SIM状態", ln["sim_status_label"].to(str)),
                    kv("端末", ln["device_model"].to(str) + " " + ln["imei"].to(str)),
                    kv("開通日時", ln["activated_at"].to(str)),
                ),
                rx.flex(rx.foreach(LineState.actions, lambda a: rx.button(
                    a["label"], on_click=LineState.ask(a["event"]), variant="outline",
                    data_event=a["event"])), spacing="2", wrap="wrap"),
            ),
            confirm_dialog(LineState, LineState.confirm),
            section(t("usage"),
                rx.text(t("month_usage"), ": ", d["month"].to(dict[str, Any])["summary"].to(str), size="2", id="month-usage"),
                rx.progress(value=d["month"].to(dict[str, Any])["percent"].to(int), width="100%"),
                table(["日付", "通信量(MB)"], d["usage"].to(list[dict[str, Any]]), lambda u: rx.table.row(
                    rx.table.cell(u["day"]), rx.table.cell(u["used_mb"])))),
            section("外部連携の履歴", operation_history(d["external_operations"].to(list[dict[str, Any]])),
                    id="line-external-operations"),
            section(t("history"), history(d["history"].to(list[dict[str, Any]])), id="line-history"),
            spacing="4", width="100%",
        )),
        title=rx.cond(LineState.loaded, "回線 " + ln["msisdn"].to(str), ""),
    )
