"""入金・消込 and 売掛金: money not yet matched with suggested invoices, manual entry, and the aging table."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.shell import admin_shell
from components.widgets import field, link, messages, section, table
from state.admin.payments import AgingState, PaymentsState
from telecom_app import routes


def _suggestion(payment, s) -> rx.Component:
    return rx.hstack(
        link(s["invoice_no"], routes.admin_invoice(s["invoice_id"])),
        rx.text(s["customer_name"], " ・ 未収 ", s["outstanding"], size="2"),
        rx.badge(s["reasons"], color_scheme="blue", variant="soft"),
        rx.cond(PaymentsState.can_manage, rx.button(
            "消込", size="1", on_click=PaymentsState.ask_match(payment["id"], s["invoice_id"]),
            data_payment=payment["id"], data_invoice=s["invoice_id"])),
        spacing="2", align="center", wrap="wrap")


def _payment(p) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text(p["payer_name"], weight="bold"), rx.text(p["received_at"], size="1", color="gray"),
                  rx.badge(p["method_label"]), rx.badge(p["status_label"], color_scheme="amber"), wrap="wrap", align="center"),
        rx.text("入金 ", p["amount"], "（未消込 ", p["left"], "）", rx.cond(p["reference"] != "", " 参照: " + p["reference"].to(str), ""),
                size="2"),
        rx.cond(p["suggestions"].to(list[dict[str, Any]]).length() > 0,
                rx.vstack(rx.text("候補", size="1", color="gray"),
                          rx.foreach(p["suggestions"].to(list[dict[str, Any]]), lambda s: _suggestion(p, s)), spacing="1"),
                rx.text("候補が見つかりません。顧客に確認してください。", size="2", color="gray")),
        spacing="2", width="100%"), width="100%", data_payment_card=p["id"])


def _match_dialog() -> rx.Component:
    m = PaymentsState.matching
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title("消込"),
        rx.dialog.description(m["payer"].to(str) + " の入金を請求書 " + m["invoice_no"].to(str) + " に消込します（"
                              + m["reasons"].to(str) + "）。"),
        rx.form(rx.vstack(
            field("amount", "消込額（円）", PaymentsState.field_errors, type="number", min=1,
                  default_value=m["amount"].to(str)),
            field("reason", "消込の理由", PaymentsState.field_errors, required=True),
            rx.cond(PaymentsState.error != "", rx.text(PaymentsState.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button("取消", type="button", variant="soft", color_scheme="gray", on_click=PaymentsState.cancel),
                      rx.button("消込する", type="submit", id="match-submit"), justify="end", width="100%"),
            spacing="3"), on_submit=PaymentsState.match, reset_on_submit=False),
    ), open=m.length() > 0)


def payments_page() -> rx.Component:
    """The unmatched queue with suggestions, and entering a payment by hand."""
    e = PaymentsState.field_errors
    return admin_shell(
        messages(PaymentsState),
        section("未消込の入金", rx.cond(PaymentsState.rows.length() > 0,
                                   rx.vstack(rx.foreach(PaymentsState.rows, _payment), spacing="3", width="100%"),
                                   rx.text("未消込の入金はありません。", size="2", color="gray")), id="unmatched"),
        rx.cond(PaymentsState.can_manage, section("入金の登録（手入力）", rx.form(rx.vstack(
            field("amount", "金額（円）", e, type="number", min=1, required=True),
            field("payer_name", "振込名義・支払者名", e, required=True),
            rx.text("方法", size="2", weight="medium"),
            rx.select.root(rx.select.trigger(), rx.select.content(
                rx.select.item("銀行振込", value="bank_transfer"), rx.select.item("口座振替", value="direct_debit"),
                rx.select.item("クレジットカード", value="card")), name="method", default_value="bank_transfer"),
            field("reference", "参照番号（任意）", e), field("customer_id", "顧客ID（分かる場合）", e, type="number", min=1),
            rx.button("登録", type="submit", id="record-payment"), spacing="3", width="100%", max_width="560px"),
            on_submit=PaymentsState.record, reset_on_submit=True, key=PaymentsState.form_key))),
        _match_dialog(),
        title="入金・消込",
    )


def aging_page() -> rx.Component:
    """売掛金年齢表 with its CSV."""
    d = AgingState.data
    buckets = d["buckets"].to(list[dict[str, Any]])
    return admin_shell(
        messages(AgingState),
        section(rx.hstack(rx.text("売掛金年齢表（", d["as_of"].to(str), " 時点）"), rx.spacer(),
                          rx.link("CSV をダウンロード", href=routes.API_AGING_CSV, is_external=True, id="aging-csv"),
                          width="100%", align="center"),
                rx.flex(rx.foreach(buckets, lambda b: rx.card(rx.vstack(rx.text(b["label"], size="2"),
                                                                        rx.heading(b["total"], size="4")))),
                        rx.card(rx.vstack(rx.text("合計", size="2"), rx.heading(d["total"].to(str), size="4"))),
                        spacing="3", wrap="wrap"),
                table(["顧客番号", "顧客", "期日前", "1〜30日", "31〜60日", "61〜90日", "90日超", "合計"],
                      d["rows"].to(list[dict[str, Any]]), lambda r: rx.table.row(
                    rx.table.cell(link(r["customer_code"], routes.admin_customer(r["customer_id"]))),
                    rx.table.cell(r["customer_name"]), rx.table.cell(r["current_text"]), rx.table.cell(r["d1_30_text"]),
                    rx.table.cell(r["d31_60_text"]), rx.table.cell(r["d61_90_text"]), rx.table.cell(r["d90_plus_text"]),
                    rx.table.cell(r["total_text"])))),
        title="売掛金",
    )
