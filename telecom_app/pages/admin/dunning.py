"""督促: the unpaid invoices being chased and the policy's steps."""

from __future__ import annotations

import reflex as rx

from components.admin.shell import admin_shell
from components.widgets import link, messages, section, status_badge, table
from state.admin.dunning import DunningState
from telecom_app import routes

_FILTERS = [("", "すべて"), ("open", "督促中"), ("suspended", "利用停止中"), ("paid", "入金済"), ("closed", "終了")]


def dunning_page() -> rx.Component:
    """The cases and the policy table."""
    return admin_shell(
        messages(DunningState),
        rx.hstack(*[rx.button(label, size="1", variant=rx.cond(DunningState.status == value, "solid", "soft"),
                              on_click=DunningState.filter(value)) for value, label in _FILTERS], wrap="wrap"),
        section("督促の一覧", table(["請求書", "顧客", "理由", "状態", "段階", "未収", "次の段階", "停止", "入金", "再開"],
                                DunningState.rows, lambda c: rx.table.row(
            rx.table.cell(link(c["invoice_no"], routes.admin_invoice(c["invoice_id"]))),
            rx.table.cell(link(c["customer_name"], routes.admin_customer(c["customer_id"]))),
            rx.table.cell(rx.text(c["reason"], size="1")),
            rx.table.cell(status_badge(c["status"], c["status_label"])),
            rx.table.cell(c["step"].to(str) + "/" + c["steps"].to(str) + " " + c["last_step"].to(str)),
            rx.table.cell(c["outstanding"]), rx.table.cell(c["next_step_at"]), rx.table.cell(c["suspended_at"]),
            rx.table.cell(c["paid_at"]), rx.table.cell(c["resumed_at"])))),
        section("督促ポリシー", table(["時期", "内容", "対応"], DunningState.steps, lambda s: rx.table.row(
            rx.table.cell(s["days"]), rx.table.cell(s["title"]), rx.table.cell(s["action"])))),
        title="督促",
    )
