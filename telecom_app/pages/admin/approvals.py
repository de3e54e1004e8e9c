"""The approval queue page: pending requests with their diff, links, and approve / reject."""

from __future__ import annotations

import reflex as rx

from components.admin.shell import admin_shell
from components.i18n import t, tr
from components.widgets import link, messages, section, status_badge
from state.admin.approvals import ApprovalQueueState as Q
from telecom_app import routes


def _changes(changes) -> rx.Component:
    return rx.box(rx.table.root(
        rx.table.header(rx.table.row(rx.table.column_header_cell(tr("項目")), rx.table.column_header_cell(tr("変更前")),
                                     rx.table.column_header_cell(tr("変更後")))),
        rx.table.body(rx.foreach(changes, lambda c: rx.table.row(
            rx.table.cell(c["field"]), rx.table.cell(c["before"]), rx.table.cell(rx.text(c["after"], weight="bold"))))),
        size="1", variant="surface", width="100%"), overflow_x="auto", width="100%")


def _links(r) -> rx.Component:
    return rx.flex(
        rx.cond(r["customer_id"] != 0, link("顧客を開く", routes.admin_customer(r["customer_id"]))),
        rx.cond(r["contract_id"] != 0, link("契約を開く", routes.admin_contract(r["contract_id"]))),
        rx.cond(r["line_id"] != 0, link("回線を開く", routes.admin_line(r["line_id"]))),
        spacing="3", wrap="wrap")


def _request_card(r) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text("#", r["id"], weight="bold"),
                  rx.cond(r["urgent"], rx.badge("至急", color_scheme="red", variant="solid", data_urgent="true")),
                  rx.badge(r["label"]), status_badge(r["status"], r["status_label"]), wrap="wrap", align="center"),
        rx.text(r["summary"], weight="medium"),
        rx.cond(r["from_customer"], rx.text("お客様からのお申し込みです（マイページ）。承認・却下の結果と却下の理由はお客様に表示されます。",
                                            size="1", color="gray")),
        _changes(r["changes"].to(list[dict[str, str]])),
        rx.text("申請: ", r["requester"], " ・ ", r["created_at"], "（", r["age"], "）・ 期限 ", r["expires_at"],
                size="1", color="gray"),
        rx.text("理由: ", r["reason"], size="2"),
        _links(r),
        rx.cond(r["can_decide"], rx.hstack(
            rx.button("承認して実行", on_click=Q.open_decision(r["id"].to(int), "approve"), color_scheme="green",
                      data_action="approve"),
            rx.button("却下", on_click=Q.open_decision(r["id"].to(int), "reject"), color_scheme="red",
                      variant="soft", data_action="reject"),
            spacing="2"),
            rx.cond(r["mine"], rx.text("自分の申請は承認できません（別の担当者が承認します）。", size="1", color="gray"))),
        spacing="2", width="100%"), width="100%", data_request=r["id"])


def _decision_dialog() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.cond(Q.decide_kind == "approve", "承認して実行します", "却下します")),
        rx.dialog.description(Q.decide_summary),
        rx.form(rx.vstack(
            rx.text(rx.cond(Q.decide_kind == "approve", "コメント（任意）", "却下の理由（必須）"), size="2"),
            rx.text_area(name="reason", id="decision-reason", width="100%"),
            rx.cond(Q.field_errors.contains("reason"), rx.text(Q.field_errors["reason"], color="red", size="2")),
            rx.cond(Q.error != "", rx.text(Q.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                on_click=Q.cancel_decision),
                      rx.button(rx.cond(Q.decide_kind == "approve", "承認して実行する", "却下する"), type="submit",
                                color_scheme=rx.cond(Q.decide_kind == "approve", "green", "red"),
                                id="decision-submit"),
                      justify="end", width="100%"),
            spacing="3"), on_submit=Q.submit_decision, reset_on_submit=False),
    ), open=Q.decide_id != 0)


def _filters() -> rx.Component:
    return rx.form(rx.flex(
        rx.el.select(rx.el.option("すべての種類", value=""),
                     rx.foreach(Q.operations, lambda o: rx.el.option(o["label"], value=o["value"])),
                     name="operation", default_value=Q.operation),
        rx.el.select(rx.el.option("すべての申請者", value=""),
                     rx.foreach(Q.requesters, lambda p: rx.el.option(p["name"], value=p["id"].to(str))),
                     name="requester_id", default_value=Q.requester_id),
        rx.el.select(rx.el.option("すべての経過時間", value=""), rx.el.option("1時間以上", value="1"),
                     rx.el.option("24時間以上", value="24"), rx.el.option("48時間以上", value="48"),
                     name="min_age_hours", default_value=Q.min_age_hours),
        rx.button("絞り込み", type="submit", variant="soft"),
        spacing="2", wrap="wrap", align="center"), on_submit=Q.apply_filters, reset_on_submit=False)


def approvals_page() -> rx.Component:
    """承認待ちの一覧と自分の申請。"""
    return admin_shell(
        messages(Q),
        _filters(),
        rx.cond(Q.rows.length() > 0, rx.vstack(rx.foreach(Q.rows, _request_card), spacing="3", width="100%"),
                rx.text("承認待ちの申請はありません。", color="gray", id="no-pending")),
        _decision_dialog(),
        section("自分の申請", rx.foreach(Q.mine, lambda r: rx.box(
            rx.hstack(rx.text("#", r["id"]), rx.badge(r["label"]), status_badge(r["status"], r["status_label"]),
                      wrap="wrap", align="center"),
            rx.text(r["summary"], size="2"),
            rx.cond(r["decider"] != "", rx.text("判断: ", r["decider"], " ", r["decision_reason"], " ", r["result"],
                                                size="1", color="gray")),
            padding_y="0.4em", border_bottom="1px solid var(--gray-4)", width="100%"))),
        title=t("approvals"),
    )
