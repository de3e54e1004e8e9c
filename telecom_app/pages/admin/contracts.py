"""One contract with its plan, options, lines, invoices and history."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.records import LINE_HEADERS, history, invoice_row, line_row, loading
from components.admin.shell import admin_shell
from components.i18n import t
from components.widgets import confirm_dialog, field, kv, link, messages, section, status_badge, table
from state.admin.contracts import ContractPlanState, ContractState
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
            _plan_section(),
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


def _when(name: str = "when") -> rx.Component:
    return rx.radio_group.root(rx.vstack(
        rx.radio_group.item("翌月1日から（翌月適用）", value="next_month"),
        rx.radio_group.item("今日から（今月分は日割り）", value="now")), name=name, default_value="next_month")


def _plan_dialog() -> rx.Component:
    s = ContractPlanState
    e = s.field_errors
    plans = s.data["plan_choices"].to(list[dict[str, Any]])
    options = s.data["option_choices"].to(list[dict[str, Any]])
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.match(s.dialog, ("plan", "プランの変更"), ("add_option", "オプションの追加"), "オプションの解約")),
        rx.cond(s.dialog == "plan", rx.form(rx.vstack(
            rx.text("変更先のプラン", size="2", weight="medium"),
            rx.select.root(rx.select.trigger(placeholder="プランを選ぶ", id="plan-choice"), rx.select.content(
                rx.foreach(plans, lambda p: rx.select.item(p["label"], value=p["id"].to(str)))), name="plan_id"),
            rx.cond(e.contains("plan_id"), rx.text(e["plan_id"], color="red", size="2")),
            _when(), rx.button("変更内容を確認", type="submit", variant="soft", id="plan-check"),
            spacing="3", width="100%"), on_submit=s.check, reset_on_submit=False)),
        rx.cond(s.dialog == "add_option", rx.vstack(
            rx.text("追加するオプション", size="2", weight="medium"),
            width="100%")),
        rx.cond(s.preview.length() > 0, rx.callout(rx.vstack(rx.foreach(s.preview, lambda ln: rx.text(ln, size="2")),
                                                            spacing="1"), icon="info", id="plan-preview")),
        rx.cond((s.dialog != "plan") | (s.preview.length() > 0), rx.form(rx.vstack(
            rx.cond(s.dialog == "add_option", rx.vstack(
                rx.select.root(rx.select.trigger(placeholder="オプションを選ぶ"), rx.select.content(
                    rx.foreach(options, lambda o: rx.select.item(o["label"], value=o["id"].to(str)))), name="option_id"),
                rx.cond(e.contains("option_id"), rx.text(e["option_id"], color="red", size="2")), width="100%")),
            rx.cond(s.dialog != "plan", _when()),
            rx.text("理由", size="2", weight="medium"),
            rx.text_area(name="reason", required=True, width="100%", id="plan-reason"),
            rx.cond(e.contains("reason"), rx.text(e["reason"], color="red", size="2")),
            rx.cond(s.error != "", rx.text(s.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button("取消", type="button", variant="soft", color_scheme="gray", on_click=s.cancel),
                      rx.button("変更する", type="submit", id="plan-confirm"), justify="end", width="100%"),
            spacing="3", width="100%"), on_submit=s.confirm, reset_on_submit=False)),
        rx.cond((s.dialog == "plan") & (s.preview.length() == 0),
                rx.button("取消", variant="soft", color_scheme="gray", on_click=s.cancel)),
    ), open=s.dialog != "")


def _plan_section() -> rx.Component:
    s = ContractPlanState
    return section("プランとオプションの履歴", rx.vstack(
        table(["プラン", "期間", ""], s.data["timeline"].to(list[dict[str, Any]]), lambda r: rx.table.row(
            rx.table.cell(r["plan"]), rx.table.cell(r["span"]), rx.table.cell(rx.badge(r["state"])))),
        table(["オプション", "期間", ""], s.data["options"].to(list[dict[str, Any]]), lambda o: rx.table.row(
            rx.table.cell(o["name"]), rx.table.cell(o["span"]),
            rx.table.cell(rx.cond(o["removable"].to(bool) & s.data["changeable"].to(bool),
                                  rx.button("外す", size="1", variant="outline", on_click=s.ask_remove(o["id"])))))),
        rx.cond(s.data["changeable"].to(bool), rx.hstack(
            rx.button("プランを変更", variant="outline", on_click=s.open("plan"), id="change-plan"),
            rx.button("オプションを追加", variant="outline", on_click=s.open("add_option"), id="add-option"),
            spacing="2")),
        _plan_dialog(), spacing="3", width="100%"), id="contract-plan")
