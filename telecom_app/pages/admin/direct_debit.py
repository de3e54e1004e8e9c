"""口座振替: the withdrawal files, sending them to the bank, and reading the results."""

from __future__ import annotations

import reflex as rx

from components.admin.shell import admin_shell
from components.widgets import form_label, link, messages, section, status_badge, table
from state.admin.direct_debit import DirectDebitState
from telecom_app import routes


def _batch(b) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.button(b["withdrawal_date"], variant="ghost", size="1", on_click=DirectDebitState.show(b["id"]))),
        rx.table.cell(status_badge(b["status"], b["status_label"])),
        rx.table.cell(b["item_count"]), rx.table.cell(b["total_amount"]),
        rx.table.cell(b["collected"]), rx.table.cell(b["failed"]),
        rx.table.cell(rx.hstack(
            rx.link("ファイル", href=routes.debit_file(b["id"]), is_external=True),
            rx.cond(b["can_submit"].to(bool) & DirectDebitState.can_manage,
                    rx.button("銀行へ送信", size="1", on_click=DirectDebitState.submit(b["id"]), data_submit=b["id"])),
            rx.cond(b["can_import"].to(bool) & DirectDebitState.can_manage,
                    rx.button("振替結果を取り込む", size="1", on_click=DirectDebitState.import_result(b["id"]),
                              data_import=b["id"])),
            spacing="2", align="center", wrap="wrap")),
    )


def direct_debit_page() -> rx.Component:
    """Writing a file for a withdrawal day, the files and one file's lines with the bank's answers."""
    return admin_shell(
        messages(DirectDebitState),
        rx.cond(DirectDebitState.sending, rx.moment(interval=2000, on_change=DirectDebitState.refresh, display="none")),
        rx.cond(DirectDebitState.can_manage, section("口座振替データの作成", rx.form(rx.vstack(
            rx.hstack(rx.vstack(form_label("引落日", "withdrawal_date"),
                                rx.input(type="date", name="withdrawal_date", id="withdrawal_date",
                                         default_value=DirectDebitState.default_date), spacing="1"),
                      rx.button("作成", type="submit", id="create-debit"), align="end", spacing="3"),
            rx.text("口座振替を登録したお客様の未収の請求書すべてを、全銀協フォーマット（種別91）のファイルにします。"
                    "引落日が土日祝日・年末年始のときは翌営業日になります。", size="2", color="gray"),
            spacing="2"), on_submit=DirectDebitState.create, reset_on_submit=False))),
        section(rx.hstack(rx.text("口座振替データ"), rx.spacer(), rx.button("更新", size="1", variant="soft",
                                                                     on_click=DirectDebitState.refresh), width="100%"),
                table(["引落日", "状態", "件数", "金額", "振替済", "振替不能", ""], DirectDebitState.batches, _batch)),
        rx.cond(DirectDebitState.shown_batch != 0, section("明細（口座振替データ #" + DirectDebitState.shown_batch.to(str) + "）",
            table(["請求書", "顧客", "金額", "振替結果"], DirectDebitState.items, lambda i: rx.table.row(
                rx.table.cell(link(i["invoice_no"], routes.admin_invoice(i["invoice_id"]))),
                rx.table.cell(link(i["customer_name"], routes.admin_customer(i["customer_id"]))),
                rx.table.cell(i["amount"]),
                rx.table.cell(rx.cond(i["failed"].to(bool), rx.badge(i["result"], color_scheme="red"), rx.text(i["result"]))))),
            id="debit-items")),
        title="口座振替",
    )
