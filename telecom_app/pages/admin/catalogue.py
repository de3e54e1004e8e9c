"""料金表: plans, options and rate tables with their prices by date."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.shell import admin_shell
from components.widgets import field, form_label, messages, section, table
from state.admin.catalogue import CatalogueState

_VERSION_HEADERS = ["適用開始日", "月額", "税率", "データ容量", "状態"]


def _version(v) -> rx.Component:
    return rx.table.row(rx.table.cell(v["effective_from"]), rx.table.cell(v["monthly_fee"]), rx.table.cell(v["tax_rate"]),
                        rx.table.cell(v["data_cap_mb"]),
                        rx.table.cell(rx.badge(v["state"], color_scheme=rx.match(
                            v["state"], ("適用中", "green"), ("予定", "blue"), "gray"))))


def _item(row, kind: str) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["name"], weight="bold"), rx.text(row["code"], size="1", color="gray"),
                  rx.cond(row["on_sale"].to(bool), rx.badge("販売中", color_scheme="green"), rx.badge("販売終了")),
                  rx.spacer(),
                  rx.cond(CatalogueState.can_manage, rx.button(
                      "料金を改定", size="1", variant="outline",
                      on_click=CatalogueState.open_form(f"{kind}:" + row["id"].to(str), row["name"].to(str) + " の改定"),
                      data_target=f"{kind}:" + row["id"].to(str))),
                  width="100%", align="center", wrap="wrap"),
        table(_VERSION_HEADERS, row["versions"].to(list[dict[str, Any]]), _version),
        spacing="2", width="100%"), width="100%")


def _form() -> rx.Component:
    e = CatalogueState.field_errors
    editing = CatalogueState.editing
    plan_like = editing.startswith("plan") | (editing == "new_plan")
    new_item = (editing == "new_plan") | (editing == "new_option")
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(CatalogueState.editing_label),
        rx.form(rx.vstack(
            rx.cond(new_item | (editing == "charge"), rx.vstack(
                field("code", "コード（半角英数字）", e), field("name", "名称", e), width="100%")),
            rx.cond(editing == "charge", rx.vstack(
                rx.text("種類", size="2", weight="medium"),
                rx.select.root(rx.select.trigger(placeholder="種類"), rx.select.content(
                    rx.select.item("一時金（事務手数料・追加データなど）", value="one_off"),
                    rx.select.item("番号ごとの月額（ユニバーサルサービス料など）", value="levy")), name="kind", default_value="levy"),
                field("amount", "金額（税抜・円）", e, type="number", min=0), width="100%"),
                field("monthly_fee", "月額（税抜・円）", e, type="number", min=0, required=True)),
            rx.cond(plan_like, rx.vstack(
                field("data_cap_mb", "データ容量（MB、0 = 無制限）", e, type="number", min=0),
                field("throttled_kbps", "制限時の速度（kbps）", e, type="number", min=1, default_value="200"),
                width="100%")),
            rx.text("税率", size="2", weight="medium"),
            rx.select.root(rx.select.trigger(), rx.select.content(
                rx.select.item("10%（標準税率）", value="10"), rx.select.item("8%（軽減税率）", value="8")),
                name="tax_rate_percent", default_value="10"),
            rx.hstack(rx.checkbox(name="price_includes_tax", default_checked=True, id="price-includes-tax"),
                      form_label("画面やお知らせでは税込で表示する", "price-includes-tax"),
                      align="center"),
            field("effective_from", "適用開始日（今日以降）", e, type="date"),
            rx.cond(new_item, rx.fragment(), field("reason", "改定の理由", e, required=True)),
            rx.text("発行済の請求書は変わりません。新しい料金は適用開始日の分から請求されます。", size="1", color="gray"),
            rx.cond(CatalogueState.error != "", rx.text(CatalogueState.error, color="red", size="2", role="alert")),
            rx.hstack(rx.button("取消", type="button", variant="soft", color_scheme="gray", on_click=CatalogueState.cancel),
                      rx.button("保存", type="submit", id="catalogue-save"), justify="end", width="100%"),
            spacing="3", width="100%"), on_submit=CatalogueState.submit, reset_on_submit=False, key=CatalogueState.form_key),
    ), open=CatalogueState.editing != "")


def catalogue_page() -> rx.Component:
    """Plans, options and rate tables, each with its versions by date."""
    d = CatalogueState.data
    return admin_shell(
        messages(CatalogueState),
        rx.cond(CatalogueState.can_manage, rx.hstack(
            rx.button("プランを追加", variant="soft", on_click=CatalogueState.open_form("new_plan", "新しいプラン")),
            rx.button("オプションを追加", variant="soft", on_click=CatalogueState.open_form("new_option", "新しいオプション")),
            rx.button("一時金・ユニバーサルサービス料などを設定", variant="soft",
                      on_click=CatalogueState.open_form("charge", "料金表の設定")), wrap="wrap", spacing="2")),
        section("料金プラン", rx.vstack(rx.foreach(d["plans"].to(list[dict[str, Any]]), lambda p: _item(p, "plan")),
                                    width="100%", spacing="3")),
        section("オプション", rx.vstack(rx.foreach(d["options"].to(list[dict[str, Any]]), lambda o: _item(o, "option")),
                                   width="100%", spacing="3")),
        section("一時金・番号ごとの料金", table(["コード", "名称", "種類", "適用開始日", "金額", "状態"],
                                        d["charges"].to(list[dict[str, Any]]), lambda c: rx.table.row(
            rx.table.cell(c["code"]), rx.table.cell(c["name"]), rx.table.cell(c["kind"]),
            rx.table.cell(c["effective_from"]), rx.table.cell(c["amount"]), rx.table.cell(c["state"])))),
        _form(),
        title="料金表",
    )
