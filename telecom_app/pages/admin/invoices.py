"""One invoice with its items, allocations (消込) and card charges."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.operations import operation_history
from components.admin.records import loading
from components.admin.shell import admin_shell
from components.widgets import confirm_dialog, kv, link, messages, section, status_badge, table
from state.admin.invoices import InvoiceCorrectionState, InvoiceState
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
                    kv("種類", i["kind_label"].to(str)),
                    kv("請求月", i["period"].to(str)), kv("ご利用期間", i["period_span"].to(str)),
                    kv("発行日", i["issue_date"].to(str)),
                    kv("支払期限", i["due_date"].to(str)), kv("小計", i["subtotal"].to(str)),
                    kv("消費税", i["tax"].to(str)), kv("合計", i["total"].to(str)),
                    kv("入金済額", i["allocated"].to(str)),
                    rx.cond(i["issuer"].to(str) != "", kv("発行者", i["issuer"].to(str))),
                    rx.cond(i["original_id"].to(int) != 0, kv(
                        rx.cond(i["kind"].to(str) == "credit_note", "返還の対象", "差し替え前の請求書"),
                        link(i["original_no"].to(str), routes.admin_invoice(i["original_id"])))),
                    rx.cond(i["credit_note_id"].to(int) != 0, kv(
                        "適格返還請求書", link(i["credit_note_no"].to(str), routes.admin_invoice(i["credit_note_id"])))),
                    rx.cond(i["reissue_id"].to(int) != 0, kv(
                        "訂正後の請求書", link(i["reissue_no"].to(str), routes.admin_invoice(i["reissue_id"])))),
                    rx.cond(i["correction_reason"].to(str) != "", kv("訂正の理由", i["correction_reason"].to(str))),
                ),
                rx.flex(rx.foreach(InvoiceState.actions, lambda a: rx.button(
                    a["label"], on_click=InvoiceState.ask(a["event"]), variant="outline", data_event=a["event"])),
                    rx.cond(InvoiceState.can_charge_card, rx.button(
                        "カードで請求", on_click=InvoiceState.ask_card_charge, variant="outline",
                        data_event="charge_card", id="invoice-charge-card")),
                    rx.cond(i["has_pdf"].to(bool), rx.link(rx.button("PDF をダウンロード", variant="outline"),
                                                           href=routes.invoice_pdf(i["id"]), is_external=True,
                                                           id="invoice-pdf")),
                    rx.cond(i["correctable"].to(bool) & InvoiceState.can_correct, rx.button(
                        "請求を訂正（返還請求書と再発行）", variant="outline", on_click=InvoiceCorrectionState.start,
                        id="invoice-correct")),
                    spacing="2", wrap="wrap"),
            ),
            confirm_dialog(InvoiceState, InvoiceState.confirm),
            _correction_dialog(),
            section("明細", table(["内容", "数量", "単価", "金額", "税率", "計算"], d["items"].to(list[dict[str, Any]]), lambda it: rx.table.row(
                rx.table.cell(rx.cond(it["line_id"] != 0, link(it["description"], routes.admin_line(it["line_id"])), it["description"])),
                rx.table.cell(it["quantity"]), rx.table.cell(it["unit_price"]), rx.table.cell(it["amount"]),
                rx.table.cell(it["tax_rate"]), rx.table.cell(rx.text(it["note"], size="1", color="gray")))),
                rx.foreach(d["taxes"].to(list[dict[str, Any]]), lambda x: rx.text(
                    x["rate"], " ", x["taxable"], "　消費税 ", x["tax"], size="2")),
                rx.text("※は軽減税率（8%）対象", size="1", color="gray")),
            section("消込", table(["入金日時", "名義", "方法", "消込額"], d["allocations"].to(list[dict[str, Any]]), lambda a: rx.table.row(
                rx.table.cell(a["received_at"]), rx.table.cell(a["payer_name"]), rx.table.cell(a["method_label"]),
                rx.table.cell(a["amount"])))),
            section("外部連携の履歴", operation_history(d["external_operations"].to(list[dict[str, Any]])),
                    id="invoice-external-operations"),
            spacing="4", width="100%",
        )),
        title=rx.cond(InvoiceState.loaded, "請求書 " + i["invoice_no"].to(str), ""),
    )


def _correction_dialog() -> rx.Component:
    c = InvoiceCorrectionState
    row = lambda it, n: rx.hstack(  # noqa: E731
        rx.input(name="description_" + n.to(str), default_value=it["description"].to(str), width="16em",
                 aria_label="内容"),
        rx.input(name="quantity_" + n.to(str), default_value=it["quantity"].to(str), width="4em", type="number",
                 aria_label="数量"),
        rx.input(name="unit_price_" + n.to(str), default_value=it["unit_price"].to(str), width="7em",
                 aria_label="単価（税抜）"),
        rx.select.root(rx.select.trigger(), rx.select.content(rx.select.item("10%", value="10"),
                                                              rx.select.item("8%", value="8")),
                       name="rate_" + n.to(str), default_value=it["tax_rate_percent"].to(str)),
        spacing="2", wrap="wrap")
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title("請求の訂正"),
        rx.dialog.description("発行済の請求書は変更しません。全額の適格返還請求書と、正しい内容の請求書を発行し直します"
                              "（経理の別の担当者の承認後）。内容を空にした行は除かれます。"),
        rx.form(rx.vstack(
            rx.foreach(c.items, row),
            rx.button("行を追加", type="button", variant="soft", size="1", on_click=c.add_row),
            rx.button("訂正内容を確認", type="submit", variant="soft", id="correction-check"),
            spacing="2", width="100%"), on_submit=c.check, reset_on_submit=False, key=c.form_key),
        rx.cond(c.summary != "", rx.vstack(
            rx.callout(c.summary, icon="info"),
            rx.foreach(c.changes, lambda ch: rx.text(ch["field"], ": ", ch["before"], " → ", ch["after"], size="2")),
            rx.form(rx.vstack(
                rx.text("訂正の理由", size="2", weight="medium"),
                rx.text_area(name="reason", required=True, width="100%", id="correction-reason"),
                rx.hstack(rx.button("取消", type="button", variant="soft", color_scheme="gray", on_click=c.cancel),
                          rx.button("承認を申請", type="submit", color_scheme="red", id="correction-submit"),
                          justify="end", width="100%"),
                spacing="2", width="100%"), on_submit=c.confirm, reset_on_submit=False),
            width="100%")),
        rx.cond(c.error != "", rx.text(c.error, color="red", size="2", role="alert")),
        rx.cond(c.summary == "", rx.button("取消", variant="soft", color_scheme="gray", on_click=c.cancel)),
    ), open=c.open)
