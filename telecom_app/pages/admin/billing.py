"""請求締め: the billing runs, and one run's progress, totals, anomalies, review and issue."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.records import loading
from components.admin.shell import admin_shell
from components.widgets import form_label, kv, link, messages, section, status_badge, table
from state.admin.billing import BillingRunsState, BillingRunState
from telecom_app import routes


def _run_row(r) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link(r["period"], routes.admin_billing_run(r["id"]))),
        rx.table.cell(status_badge(r["status"], r["status_label"])),
        rx.table.cell(r["invoice_count"]), rx.table.cell(r["total_amount"]),
        rx.table.cell(r["previous_total"], " → ", r["change"]),
        rx.table.cell(rx.cond(r["anomaly_count"].to(int) > 0, rx.badge(r["anomaly_count"], color_scheme="amber"), "0")),
        rx.table.cell(r["misbilling"]),
    )


def billing_runs_page() -> rx.Component:
    """The runs, newest month first, and starting last month's."""
    return admin_shell(
        messages(BillingRunsState),
        rx.cond(BillingRunsState.can_run, section("請求締めを開始", rx.form(
            rx.hstack(
                rx.vstack(form_label("請求月", "period"),
                          rx.input(name="period", id="period", default_value=BillingRunsState.period, width="10em"),
                          spacing="1"),
                rx.button("この月の請求締めを開始", type="submit", id="start-run"),
                align="end", spacing="3", wrap="wrap"),
            rx.text("月末を過ぎた月の、契約中のすべての契約について請求書の下書きを作ります。作成は裏で進み、"
                    "この画面は他の方の操作を妨げません。同じ月を二度実行しても新しい請求書は作られません。", size="2",
                    color="gray"),
            on_submit=BillingRunsState.start, reset_on_submit=False))),
        section("請求締めの一覧", table(["請求月", "状態", "件数", "合計", "前月比", "要確認", "誤請求率（訂正/発行）"],
                                   BillingRunsState.runs, _run_row)),
        title="請求締め",
    )


def _anomaly(a) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(a["kind_label"], color_scheme=rx.cond(a["acknowledged"], "gray", "amber"))),
        rx.table.cell(rx.cond(a["invoice_id"].to(int) != 0, link(a["invoice_no"], routes.admin_invoice(a["invoice_id"])),
                              link("契約を開く", routes.admin_contract(a["contract_id"])))),
        rx.table.cell(a["customer_name"]),
        rx.table.cell(rx.text(a["message"], size="2")),
        rx.table.cell(rx.cond(a["acknowledged"], rx.text("確認済: ", a["note"], size="2"),
                              rx.cond(BillingRunState.data["can_review"].to(bool),
                                      rx.button("確認する", size="1", variant="outline",
                                                on_click=BillingRunState.ask_acknowledge(a["id"]),
                                                data_anomaly=a["id"]), "未確認"))),
    )


def _acknowledge_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title("確認した内容"),
        rx.form(rx.vstack(
            rx.text("この請求書を確認した結果を記録します（例: 月途中の解約のため）。", size="2"),
            rx.text_area(name="note", id="anomaly-note", required=True, width="100%"),
            rx.cond(BillingRunState.field_errors.contains("note"),
                    rx.text(BillingRunState.field_errors["note"], color="red", size="2")),
            rx.hstack(rx.button("取消", type="button", variant="soft", color_scheme="gray", on_click=BillingRunState.cancel),
                      rx.button("確認済にする", type="submit", id="anomaly-submit"), justify="end", width="100%"),
            spacing="3"), on_submit=BillingRunState.acknowledge, reset_on_submit=True),
    ), open=BillingRunState.acknowledging != 0)


def _confirm_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.cond(BillingRunState.confirming == "issue", "請求書を発行する", "下書きを確認済にする")),
        rx.dialog.description(rx.cond(
            BillingRunState.confirming == "issue",
            "すべての下書きを発行し、お客様に請求書発行のお知らせ（金額・お支払期限・リンク）を送ります。"
            "発行した請求書は変更できません（訂正は適格返還請求書と再発行で行います）。",
            "前月比と要確認の項目を確認したことを記録します。確認済にすると発行できるようになります。")),
        rx.form(rx.vstack(
            rx.cond(BillingRunState.confirming == "review", rx.vstack(
                rx.text("確認した内容", size="2", weight="medium"),
                rx.text_area(name="reason", id="review-reason", required=True, width="100%"), width="100%")),
            rx.cond(BillingRunState.error != "", rx.text(BillingRunState.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button("取消", type="button", variant="soft", color_scheme="gray", on_click=BillingRunState.cancel),
                      rx.button(rx.cond(BillingRunState.confirming == "issue", "発行する", "確認済にする"),
                                type="submit", color_scheme="red", id="run-confirm"), justify="end", width="100%"),
            spacing="3"), on_submit=BillingRunState.confirm, reset_on_submit=False),
    ), open=BillingRunState.confirming != "")


def billing_run_page() -> rx.Component:
    """One run: progress (refreshing itself while a worker works), totals, anomalies, review and issue."""
    d = BillingRunState.data
    r = d["run"].to(dict[str, Any])
    return admin_shell(
        messages(BillingRunState),
        rx.cond(BillingRunState.busy, rx.moment(interval=1500, on_change=BillingRunState.refresh, display="none")),
        loading(BillingRunState, rx.vstack(
            section(rx.hstack(rx.text(r["period"].to(str), " 分"), status_badge(r["status"].to(str), r["status_label"].to(str))),
                rx.cond(BillingRunState.busy, rx.vstack(
                    rx.progress(value=r["progress"].to(int), max=100, width="100%", id="run-progress"),
                    rx.text(r["done"].to(str), " / ", r["total_contracts"].to(str), " 契約（",
                            r["progress"].to(str), "%）", size="2"), width="100%")),
                rx.cond(r["error"].to(str) != "", rx.callout(r["error"].to(str), color_scheme="red", icon="triangle_alert")),
                rx.data_list.root(
                    kv("請求書", r["invoice_count"].to(str) + " 件（発行済 " + r["issued_invoices"].to(str) + " 件）"),
                    kv("合計（税込）", r["total_amount"].to(str)),
                    kv("前月（" + r["previous_period"].to(str) + "）", r["previous_total"].to(str) + "　" + r["change"].to(str)),
                    kv("要確認", r["anomaly_count"].to(str) + " 件"),
                    kv("誤請求率（訂正/発行）", r["misbilling"].to(str)),
                    kv("下書き完了", r["drafted_at"].to(str)), kv("発行完了", r["issued_at"].to(str)),
                ),
                rx.hstack(
                    rx.cond(d["can_review"].to(bool), rx.button("下書きを確認済にする", on_click=BillingRunState.ask("review"),
                                                                id="review-run")),
                    rx.cond(d["can_issue"].to(bool), rx.button("請求書を発行する", color_scheme="red",
                                                               on_click=BillingRunState.ask("issue"), id="issue-run")),
                    rx.cond(d["can_resume"].to(bool), rx.button("再開する", on_click=BillingRunState.resume, id="resume-run")),
                    link("請求締めの一覧へ", routes.ADMIN_BILLING), spacing="3", align="center", wrap="wrap"),
            ),
            section("要確認（発行前に確認してください）",
                    table(["種類", "請求書", "顧客", "内容", "確認"], d["anomalies"].to(list[dict[str, Any]]), _anomaly),
                    id="run-anomalies"),
            _acknowledge_dialog(), _confirm_dialog(),
            spacing="4", width="100%",
        )),
        title="請求締め",
    )
