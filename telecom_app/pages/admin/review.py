"""The review queue (要確認): items to settle by hand, their provider calls, retry and resolve, and the daily reconciliation runs."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.operations import PRE_STYLE, attempts_list, operation_status_badge
from components.admin.shell import admin_shell
from components.i18n import t
from components.widgets import link, messages, pager, section, status_badge, table
from state.admin.review import DailyReconciliationState as D
from state.admin.review import ReviewQueueState as Q
from telecom_app import routes

RUN_STATUS_COLORS = {"queued": "gray", "running": "blue", "completed": "green", "failed": "red"}


def _filters() -> rx.Component:
    return rx.form(rx.flex(
        rx.el.select(rx.el.option("未対応", value="open"), rx.el.option("解消済", value="resolved"),
                     rx.el.option("すべて", value="all"), name="status", default_value=Q.status, id="review-status"),
        rx.el.select(rx.el.option("すべての種類", value=""),
                     rx.foreach(Q.kinds, lambda k: rx.el.option(k["label"], value=k["value"])),
                     name="kind", default_value=Q.kind, id="review-kind"),
        rx.button("絞り込み", type="submit", variant="soft"),
        rx.text(Q.total, " 件", size="2", color="gray"),
        spacing="2", wrap="wrap", align="center"), on_submit=Q.apply_filters, reset_on_submit=False)


def _links(r) -> rx.Component:
    return rx.flex(
        rx.cond(r["line_id"] != 0, rx.hstack(
            rx.text("回線", size="2", color="gray"), link(r["msisdn"], routes.admin_line(r["line_id"])),
            status_badge(r["line_status"], r["line_status_label"]), spacing="1", align="center")),
        rx.cond(r["customer_id"] != 0, rx.hstack(
            rx.text("顧客", size="2", color="gray"), link(r["customer_name"], routes.admin_customer(r["customer_id"])),
            rx.text(r["customer_code"], size="1", color="gray"), spacing="1", align="center")),
        spacing="4", wrap="wrap", align="center")


def _operation_summary(r) -> rx.Component:
    return rx.cond(r["operation_id"] != 0, rx.vstack(
        rx.hstack(rx.text("外部連携処理 #", r["operation_id"], " ", r["operation_label"], size="2", weight="medium"),
                  operation_status_badge(r["operation_status"], r["operation_status_label"]),
                  rx.text("試行 ", r["attempt_count"], " 回", size="2", color="gray"),
                  spacing="2", wrap="wrap", align="center"),
        rx.text("冪等キー: ", rx.code(r["idempotency_key"]), size="1", word_break="break-all"),
        rx.cond(r["last_error"] != "", rx.text("最後のエラー: ", r["last_error"], size="2", color="red")),
        rx.el.details(rx.el.summary("試行の履歴", style={"cursor": "pointer", "font_size": "13px"}),
                      attempts_list(r["attempts"].to(list[dict[str, Any]]))),
        spacing="1", width="100%"))


def _actions(r) -> rx.Component:
    return rx.flex(
        rx.cond(r["can_retry"], rx.button(rx.icon("rotate-cw", size=16), "再試行",
                                          on_click=Q.open_action(r["id"].to(int), "retry"), variant="outline",
                                          data_action="retry")),
        rx.cond(r["can_resync"], rx.button(rx.icon("refresh-cw", size=16), "プロバイダーから再同期",
                                           on_click=Q.resync(r["id"].to(int)), variant="outline",
                                           data_action="resync")),
        rx.cond(r["can_resolve"], rx.button(rx.icon("check", size=16), "解消",
                                            on_click=Q.open_action(r["id"].to(int), "resolve"), color_scheme="green",
                                            data_action="resolve")),
        spacing="2", wrap="wrap")


def _item_card(r) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text("#", r["id"], weight="bold"), rx.badge(r["kind_label"], color_scheme="red", variant="soft"),
                  status_badge(r["status"], r["status_label"]), rx.text(r["created_at"], size="1", color="gray"),
                  spacing="2", wrap="wrap", align="center"),
        rx.text(r["reason"], weight="medium"),
        _links(r),
        rx.cond(r["evidence"] != "", rx.vstack(rx.text("証拠", size="1", color="gray"),
                                               rx.el.pre(r["evidence"], style=PRE_STYLE), spacing="1", width="100%")),
        _operation_summary(r),
        rx.cond(r["approval_id"] != 0, rx.callout(
            rx.text("回線状態の確定を承認待ちです（承認申請 #", r["approval_id"], "）。 ",
                    link("承認の画面を開く", routes.ADMIN_APPROVALS)),
            icon="clock", color_scheme="amber", size="1")),
        rx.cond(r["status"] == "resolved", rx.text(
            "解消: ", r["resolved_by"], " ・ ", r["resolved_at"], " ・ 理由: ", r["resolution_reason"],
            size="2", color="gray")),
        _actions(r),
        spacing="2", width="100%"), width="100%", data_review=r["id"])


def _action_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(Q.action_label),
        rx.dialog.description(Q.action_summary, id="review-action-summary"),
        rx.form(rx.vstack(
            rx.text("理由（必須）", size="2", weight="medium"),
            rx.text_area(name="reason", required=True, width="100%", id="review-reason"),
            rx.cond(Q.field_errors.contains("reason"), rx.text(Q.field_errors["reason"], color="red", size="2")),
            rx.cond(Q.action_can_confirm_line, rx.vstack(
                rx.text("回線の状態を確定", size="2", weight="medium"),
                rx.el.select(rx.el.option("確定しない（項目だけ解消する）", value=""),
                             rx.foreach(Q.line_state_options,
                                        lambda o: rx.el.option("「" + o["label"] + "」として確定", value=o["value"])),
                             name="line_state", id="review-line-state", default_value=""),
                rx.text("回線の状態を確定する場合は承認申請になります。別の担当者が承認するまで回線も項目も変わりません。",
                        size="1", color="gray"),
                rx.cond(Q.field_errors.contains("line_state"),
                        rx.text(Q.field_errors["line_state"], color="red", size="2")),
                spacing="1", width="100%")),
            rx.cond(Q.action == "retry", rx.text(
                "結果不明の処理は同じ冪等キーで送り直すので、キャリアで二重に実行されません。",
                size="1", color="gray")),
            rx.cond(Q.error != "", rx.text(Q.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                on_click=Q.cancel_action),
                      rx.button(Q.action_label + "する", type="submit", id="review-action-submit"),
                      justify="end", width="100%"),
            spacing="3"), on_submit=Q.submit_action, reset_on_submit=False),
    ), open=Q.action != "")


def _run_row(r) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["source_label"]),
        rx.table.cell(r["business_date"]),
        rx.table.cell(rx.badge(r["status_label"], color_scheme=rx.match(r["status"], *RUN_STATUS_COLORS.items(),
                                                                         "gray"), variant="soft")),
        rx.table.cell(r["rows_checked"]),
        rx.table.cell(r["differences"]),
        rx.table.cell(rx.text(r["error"], size="1", color="red")),
        rx.table.cell(rx.text(r["ran_at"], size="1", color="gray")),
        data_run=r["id"],
    )


def _field_error(name: str) -> rx.Component:
    return rx.cond(D.field_errors.contains(name), rx.text(D.field_errors[name], color="red", size="2"))


def _rerun_form() -> rx.Component:
    return rx.form(rx.flex(
        rx.el.select(rx.el.option("突合の対象を選ぶ", value=""),
                     rx.foreach(D.sources, lambda s: rx.el.option(s["label"], value=s["value"])),
                     name="source", id="rerun-source", aria_label="突合の対象"),
        rx.input(type="date", name="business_date", id="rerun-date", aria_label="対象日"),
        rx.button(rx.icon("refresh-cw", size=16), "再突合", type="submit", variant="outline", id="rerun-ask"),
        _field_error("source"), _field_error("business_date"),
        spacing="2", wrap="wrap", align="center"), on_submit=D.ask_rerun, reset_on_submit=False)


def _rerun_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title("再突合"),
        rx.dialog.description(D.rerun_summary, id="rerun-summary"),
        rx.form(rx.vstack(
            rx.text("理由（必須）", size="2", weight="medium"),
            rx.text_area(name="reason", required=True, width="100%", id="rerun-reason"),
            _field_error("reason"), _field_error("business_date"), _field_error("source"),
            rx.cond(D.error != "", rx.text(D.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                on_click=D.cancel_rerun),
                      rx.button("再突合する", type="submit", id="rerun-submit"),
                      justify="end", width="100%"),
            spacing="3"), on_submit=D.confirm_rerun, reset_on_submit=False),
    ), open=D.rerun_summary != "")


def _daily_runs() -> rx.Component:
    return section(
        "日次突合",
        rx.flex(
            rx.text("キャリア・決済・銀行の日次レポートを台帳と突き合わせた結果です。差異は下の要確認キューに登録されます。",
                    size="2", color="gray"),
            rx.button(rx.icon("rotate-cw", size=14), "更新", size="1", variant="soft", on_click=D.refresh,
                      id="runs-refresh"),
            spacing="3", align="center", justify="between", wrap="wrap"),
        rx.cond(D.rerun_summary == "", messages(D)),
        rx.cond(D.sources.length() > 0, _rerun_form()),
        table(["対象", "対象日", "状態", "確認した行", "差異", "エラー", "実行日時"], D.runs, _run_row),
        _rerun_dialog(),
        id="daily-reconciliation",
    )


def review_page() -> rx.Component:
    """要確認キュー: uncertain outcomes and disagreements with providers, and their recovery."""
    return admin_shell(
        _daily_runs(),
        messages(Q),
        _filters(),
        rx.cond(Q.rows.length() > 0,
                rx.vstack(rx.foreach(Q.rows, _item_card), spacing="3", width="100%"),
                rx.cond(Q.loaded, rx.text("該当する要確認の項目はありません。", color="gray", id="no-reviews"))),
        pager(Q, Q.go),
        _action_dialog(),
        title="要確認",
    )
