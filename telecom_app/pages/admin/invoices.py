"""One invoice with its items, allocations (消込) and card charges."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.operations import operation_history
from components.admin.records import loading
from components.admin.shell import admin_shell
from components.widgets import confirm_dialog, kv, link, messages, section, status_badge, table
from state.admin.invoices import InvoiceState
from telecom_app import routes


def invoice_page() -> rx.Component:
    """One invoice: items, totals, derived payment state, allocations, card charge and its provider calls."""
    d = InvoiceState.data
    i = d["invoice"].to(dict[str, Any])
    return admin_shell(
        messages(InvoiceState),
        loading(InvoiceState, rx.vstack(
            section(rx.hstack(rx.text(i["invoice_no"].to(str)), status_badge(i["status"].to(str), i["status_label"].to(str)),
                              rx.cond(i["payment_state"].to(str) != "",
                                      status_badge(i["payment_state"].to(str), i["payment_state_label"].to(str)))),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), routes.admin_customer(d["customer"].to(dict[str, Any])["id"]))),
                    kv("契約", link(i["contract_code"].to(str), routes.admin_contract(i["contract_id"]))),
                    kv("請求月", i["period"].to(str)), kv("発行日", i["issue_date"].to(str)),
                    kv("支払期限", i["due_date"].to(str)), kv("小計", i["subtotal"].to(str)),
                    kv("消費税（10%）", i["tax"].to(str)), kv("合計", i["total"].to(str)),
                    kv("入金済額", i["allocated"].to(str)),
                ),
                rx.flex(rx.foreach(InvoiceState.actions, lambda a: rx.button(
                    a["label"], on_click=InvoiceState.ask(a["event"]), variant="outline", data_event=a["event"])),
                    rx.cond(InvoiceState.can_charge_card, rx.button(
                        "カードで請求", on_click=InvoiceState.ask_card_charge, variant="outline",
                        data_event="charge_card", id="invoice-charge-card")),
                    spacing="2", wrap="wrap"),
            ),
            confirm_dialog(InvoiceState, InvoiceState.confirm),
            section("明細", table(["内容", "数量", "単価", "金額"], d["items"].to(list[dict[str, Any]]), lambda it: rx.table.row(
                rx.table.cell(rx.cond(it["line_id"] != 0, link(it["description"], routes.admin_line(it["line_id"])), it["description"])),
                rx.table.cell(it["quantity"]), rx.table.cell(it["unit_price"]), rx.table.cell(it["amount"])))),
            section("消込", table(["入金日時", "名義", "方法", "消込額"], d["allocations"].to(list[dict[str, Any]]), lambda a: rx.table.row(
                rx.table.cell(a["received_at"]), rx.table.cell(a["payer_name"]), rx.table.cell(a["method_label"]),
                rx.table.cell(a["amount"])))),
            section("外部連携の履歴", operation_history(d["external_operations"].to(list[dict[str, Any]])),
                    id="invoice-external-operations"),
            spacing="4", width="100%",
        )),
        title=rx.cond(InvoiceState.loaded, "請求書 " + i["invoice_no"].to(str), ""),
    )
