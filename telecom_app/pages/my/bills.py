"""/my/bills: the customer's bills, and one bill with its items, tax per rate and the PDF."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from components.my.payment import bill_payment_panel
from components.my.shell import my_shell
from components.widgets import messages, status_badge
from state.my.bills import MyBillsState, MyBillState
from telecom_app import routes


def _bill_row(bill: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.flex(rx.text(bill["period"], " ", bill["kind_label"], weight="bold"), rx.spacer(),
                        status_badge(bill["payment_state"], bill["payment_state_label"]), width="100%",
                        align="center"),
                rx.flex(rx.text(bill["invoice_no"], size="1", color="var(--gray-11)"), rx.spacer(),
                        rx.text(bill["total"], weight="bold", size="4"), width="100%", align="center"),
                rx.cond(bill["owed_yen"].to(int) > 0, rx.text(t("my_owed"), ": ", bill["owed"], "（", t("my_due"), " ",
                                                    bill["due_date"], "）", size="2",
                                                    color=rx.cond(bill["overdue"], "var(--red-11)", "inherit"))),
                spacing="1", width="100%",
            ),
            width="100%",
        ),
        href=routes.my_bill(bill["id"]), underline="none", color="inherit", width="100%",
        id=f"bill-{bill['id']}",
    )


def my_bills_page() -> rx.Component:
    """The bills list."""
    return my_shell(
        t("my_bills"),
        messages(MyBillsState),
        rx.cond(MyBillsState.bills.length() > 0,
                rx.vstack(rx.foreach(MyBillsState.bills, _bill_row), spacing="2", width="100%"),
                rx.text(t("my_no_bills"))),
    )


def _item(item: rx.Var) -> rx.Component:
    return rx.flex(
        rx.vstack(rx.text(item["description"], size="2"),
                  rx.text(item["quantity"], " × ", item["unit_price"], "（", item["tax_rate"], "）",
                          rx.cond(item["service_period"] != "", " " + item["service_period"].to(str), ""),
                          size="1", color="var(--gray-11)"),
                  rx.cond(item["note"] != "", rx.text(item["note"], size="1", color="var(--gray-11)")),
                  spacing="0", flex="1", min_width="0"),
        rx.text(item["amount"], size="2", white_space="nowrap"),
        gap="3", width="100%", border_bottom="1px solid var(--gray-4)", padding_y="0.4em",
    )


def _total(label: rx.Var | str, value: rx.Var, strong: bool = False) -> rx.Component:
    return rx.flex(rx.text(label, size="2"), rx.spacer(), rx.text(value, size="3" if strong else "2",
                                                                   weight="bold" if strong else "regular"),
                   width="100%")


def my_bill_page() -> rx.Component:
    """One bill."""
    bill = MyBillState.bill
    return my_shell(
        rx.cond(bill.contains("id"), bill["kind_label"].to(str) + " " + bill["invoice_no"].to(str), t("my_bills")),
        messages(MyBillState),
        rx.cond(
            bill.contains("id"),
            rx.vstack(
                rx.card(rx.vstack(
                    _total(tr("請求書番号"), bill["invoice_no"]),
                    _total(tr("発行日"), bill["issue_date"]),
                    _total(tr("支払期限"), bill["due_date"]),
                    _total(tr("状態"), bill["payment_state_label"]),
                    _total(t("my_owed"), bill["owed"], strong=True),
                    spacing="1", width="100%"), width="100%"),
                bill_payment_panel(),  # a failed payment's callout and 「カードで支払う」 (components.my.payment)
                rx.card(rx.vstack(rx.foreach(MyBillState.items, _item), spacing="0", width="100%"), width="100%"),
                rx.card(rx.vstack(
                    _total(tr("小計"), bill["subtotal"]),
                    rx.foreach(MyBillState.taxes, lambda tax: _total(tax["rate"].to(str) + " " + tax["taxable"].to(str),
                                                                 tr("消費税") + " " + tax["tax"].to(str))),
                    _total(tr("合計"), bill["total"], strong=True),
                    rx.cond(bill["reduced_rate_note"] != "", rx.text(bill["reduced_rate_note"], size="1")),
                    rx.text(bill["issuer_name"], " ", tr("登録番号"), " ", bill["issuer_registration_number"], size="1",
                            color="var(--gray-11)"),
                    spacing="1", width="100%"), width="100%"),
                rx.cond(bill["pdf_available"],
                        rx.button(rx.el.a(t("my_download_pdf"), href=routes.my_invoice_pdf(bill["id"]),
                                          reload_document=True, id="bill-pdf"),
                                  as_child=True, size="4", width="100%")),
                spacing="3", width="100%",
            ),
        ),
    )
