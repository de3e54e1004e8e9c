"""One contract with its plan, options, lines, invoices and history."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.records import LINE_HEADERS, history, invoice_row, line_row, loading
from components.admin.shell import admin_shell
from components.i18n import t
from components.widgets import confirm_dialog, field, kv, link, messages, section, status_badge, table
from state.admin.contracts import ContractState
from telecom_app import routes


def contract_page() -> rx.Component:
    """One contract: plan, options, lines (and adding one), invoices, history."""
    d = ContractState.data
    k = d["contract"].to(dict[str, Any])
    errors = ContractState.field_errors
    return admin_shell(
        messages(ContractState),
        loading(ContractState, rx.vstack(
            section(rx.hstack(rx.text(k["code"].to(str)), status_badge(k["status"].to(str), k["status_label"].to(str))),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), routes.admin_customer(d["customer"].to(dict[str, Any])["id"]))),
                    kv("料金プラン", d["plan"].to(dict[str, Any])["name"].to(str) + "（" + d["plan"].to(dict[str, Any])["monthly_fee"].to(str) + "）"),
                    kv("開始日", k["start_date"].to(str)), kv("終了日", k["end_date"].to(str)),
                ),
                rx.flex(rx.foreach(d["options"].to(list[dict[str, Any]]), lambda o: rx.badge(o["name"])), spacing="2", wrap="wrap"),
                rx.flex(rx.foreach(ContractState.actions, lambda a: rx.button(
                    a["label"], on_click=ContractState.ask(a["event"]), variant="outline")), spacing="2", wrap="wrap"),
            ),
            confirm_dialog(ContractState, ContractState.confirm),
            section(t("lines"), table(LINE_HEADERS, d["lines"].to(list[dict[str, Any]]), line_row)),
            rx.cond(ContractState.can_add_line, section(t("add_line"), rx.form(
                rx.vstack(
                    field("msisdn", "電話番号", errors, placeholder="090-1234-5678", required=True),
                    field("iccid", "ICCID（在庫のSIM）", errors, required=True),
                    field("imei", "IMEI（任意・在庫の端末）", errors),
                    rx.button(t("add_line"), type="submit", id="add-line"),
                    spacing="3", width="100%", max_width="560px",
                ),
                on_submit=ContractState.add_line, reset_on_submit=False,
            ))),
            rx.cond(d["invoices"].to(list[dict[str, Any]]).length() > 0, section(t("invoices"), table(
                ["請求書番号", "請求月", "請求額", "状態", "入金状況", "支払期限"], d["invoices"].to(list[dict[str, Any]]), invoice_row))),
            section(t("history"), history(d["history"].to(list[dict[str, Any]]))),
            spacing="4", width="100%",
        )),
        title=rx.cond(ContractState.loaded, "契約 " + k["code"].to(str), ""),
    )
