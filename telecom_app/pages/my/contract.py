"""/my/contracts: the customer's contracts; /my/contracts/<id>: plan, options, history, what ending it costs, and
changing the plan or an option from next month (default) or today (日割り) — the effective date and the price
difference are shown before the person confirms."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.i18n import t, tr
from components.my.shell import my_shell
from components.widgets import form_label, messages, status_badge
from state.my.contract import MyContractsState, MyContractState
from telecom_app import routes

TOUCH = "48px"


def _state_badge(state: rx.Var) -> rx.Component:
    return rx.badge(state, color_scheme=rx.match(state, ("適用中", "green"), ("予定", "blue"), "gray"), variant="soft")


def _row(label: rx.Var | str, value: rx.Var | str | rx.Component) -> rx.Component:
    return rx.flex(rx.text(label, size="2", color="var(--gray-11)"), rx.spacer(),
                   rx.text(value, size="2", text_align="right") if not isinstance(value, rx.Component) else value,
                   width="100%", gap="2", align="center")


def _contract_row(c: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(rx.vstack(
            rx.flex(rx.text(c["code"], weight="bold"), rx.spacer(), status_badge(c["status"], c["status_label"]),
                    width="100%", align="center"),
            rx.text(c["plan_name"], size="3"),
            rx.text(c["lines"], t("my_lines_unit"), size="2", color="var(--gray-11)"),
            spacing="1", width="100%"), width="100%"),
        href=routes.my_contract(c["id"]), underline="none", color="inherit", width="100%", id=f"contract-{c['id']}",
    )


def my_contracts_page() -> rx.Component:
    """The contracts list."""
    return my_shell(
        t("my_contracts"),
        messages(MyContractsState),
        rx.cond(MyContractsState.contracts.length() > 0,
                rx.vstack(rx.foreach(MyContractsState.contracts, _contract_row), spacing="2", width="100%"),
                rx.text(t("my_no_contracts"))),
    )


# ---- one contract --------------------------------------------------------------------------------------

def _when(value: str, label: rx.Var | str, default: bool) -> rx.Component:
    rid = f"when-{value}"
    return rx.el.label(
        rx.el.input(type="radio", name="when", value=value, id=rid, default_checked=default,
                    on_change=MyContractState.edited, style={"width": "22px", "height": "22px", "flex_shrink": "0"}),
        rx.text(label, size="3"),
        html_for=rid, display="flex", align_items="center", gap="0.75em", min_height=TOUCH, width="100%",
        padding="0 0.5em", border="1px solid var(--gray-6)", border_radius="8px", cursor="pointer",
    )


def _choice(label: rx.Var | str, choices: rx.Var) -> rx.Component:
    e = MyContractState.field_errors
    return rx.vstack(
        form_label(label, "change-choice"),
        rx.el.select(
            rx.el.option(tr("選んでください"), value=""),
            rx.foreach(choices, lambda c: rx.el.option(c["label"], value=c["id"].to(str))),
            name="choice", id="change-choice", on_change=MyContractState.edited,
            style={"width": "100%", "min_height": TOUCH, "font_size": "16px", "padding": "0 0.5em",
                   "border_radius": "8px", "border": "1px solid var(--gray-7)", "background": "var(--color-background)",
                   "max_width": "100%"},
        ),
        rx.cond(e.contains("choice"), rx.text(e["choice"], color="red", size="2", data_error="choice")),
        spacing="1", width="100%",
    )


def _panel() -> rx.Component:
    """The open change: what to change, from when, 「確認」, then the preview and 「この内容で変更する」."""
    s = MyContractState
    return rx.card(rx.vstack(
        rx.heading(rx.match(s.panel, ("plan", tr("プランの変更")), ("add_option", tr("オプションの追加")),
                            tr("オプションを外す")), size="3", as_="h2"),
        rx.form(rx.vstack(
            rx.match(s.panel,
                     ("plan", _choice(tr("変更先のプラン"), s.plan_choices)),
                     ("add_option", _choice(tr("追加するオプション"), s.option_choices)),
                     rx.text(tr("外すオプション"), ": ", s.removing_name, size="3", weight="medium")),
            rx.el.fieldset(
                rx.el.legend(rx.text(tr("いつから"), size="2", weight="medium")),
                rx.vstack(_when("next_month", tr("翌月1日から（おすすめ・日割りなし）"), True),
                          _when("now", tr("今日から（今月分は日割り）"), False), spacing="2", width="100%"),
                style={"border": "none", "padding": "0", "margin": "0", "min_width": "0", "width": "100%"},
            ),
            rx.button(t("my_check_change"), type="submit", size="3", width="100%", min_height=TOUCH, variant="soft",
                      id="change-check"),
            spacing="3", width="100%"), on_submit=s.check, reset_on_submit=False, width="100%"),
        rx.cond(s.preview.length() > 0, rx.vstack(
            rx.callout(rx.vstack(rx.foreach(s.preview, lambda ln: rx.text(ln, size="2")), spacing="1"),
                       icon="info", width="100%", id="change-preview"),
            rx.text(t("my_price_per_line"), s.contract["line_count"], t("my_price_per_line_end"),
                    size="1", color="var(--gray-11)"),
            rx.button(t("my_confirm_change"), on_click=s.confirm, size="3", width="100%", min_height=TOUCH,
                      id="change-confirm"),
            spacing="2", width="100%")),
        rx.cond(s.error != "", rx.text(s.error, color="red", size="2", role="alert")),
        rx.button(t("cancel"), on_click=s.cancel, type="button", size="3", width="100%", min_height=TOUCH,
                  variant="soft", color_scheme="gray", id="change-cancel"),
        spacing="3", width="100%"), width="100%", id="change-panel")


def _summary() -> rx.Component:
    k = MyContractState.contract
    return rx.card(rx.vstack(
        _row(tr("契約番号"), k["code"].to(str)),
        _row(tr("状態"), status_badge(k["status"].to(str), k["status_label"].to(str))),
        _row(tr("開始日"), k["start_date"].to(str)),
        rx.cond(k["end_date"].to(str) != "", _row(tr("終了日"), k["end_date"].to(str))),
        _row(tr("回線"), rx.vstack(rx.foreach(MyContractState.lines, lambda n: rx.text(n, size="2")), spacing="0",
                                  align="end")),
        spacing="2", width="100%"), width="100%")


def _plan_card() -> rx.Component:
    s = MyContractState
    return rx.card(rx.vstack(
        rx.heading(tr("料金プラン"), size="3", as_="h2"),
        rx.text(s.plan["name"].to(str), size="5", weight="bold", id="current-plan"),
        _row(tr("月額（1回線）"), s.plan["price"].to(str)),
        _row(tr("データ容量"), s.plan["cap"].to(str)),
        _row(tr("上限を超えたあとの速度"), s.plan["throttled_kbps"].to(str) + " kbps"),
        rx.cond(s.can_change & (s.panel == ""),
                rx.button(t("my_change_plan"), on_click=s.open("plan"), size="3", width="100%", min_height=TOUCH,
                          id="change-plan")),
        rx.cond(s.contract["change_note"].to(str) != "",
                rx.text(s.contract["change_note"].to(str), size="2", color="var(--gray-11)")),
        rx.cond(s.panel == "plan", _panel()),
        spacing="2", width="100%"), width="100%")


def _option(o: rx.Var) -> rx.Component:
    s = MyContractState
    return rx.vstack(
        rx.flex(rx.text(o["name"], weight="medium"), rx.spacer(), _state_badge(o["state"]), width="100%",
                align="center", gap="2"),
        rx.text(o["price"], "・", o["span"], size="2", color="var(--gray-11)"),
        rx.cond(o["removable"].to(bool) & s.can_change & (s.panel == ""),
                rx.button(tr("外す"), on_click=s.ask_remove(o["id"]), size="3", variant="outline", min_height=TOUCH,
                          width="100%", id=f"remove-option-{o['id']}")),
        spacing="1", width="100%", padding_y="0.5em", border_bottom="1px solid var(--gray-4)",
    )


def _options_card() -> rx.Component:
    s = MyContractState
    return rx.card(rx.vstack(
        rx.heading(tr("オプション"), size="3", as_="h2"),
        rx.cond(s.options.length() > 0, rx.vstack(rx.foreach(s.options, _option), spacing="0", width="100%"),
                rx.text(tr("オプションは付いていません。"), size="2")),
        rx.cond(s.can_change & (s.panel == "") & (s.option_choices.length() > 0),
                rx.button(t("my_add_option"), on_click=s.open("add_option"), size="3", width="100%",
                          min_height=TOUCH, variant="outline", id="add-option")),
        rx.cond((s.panel == "add_option") | (s.panel == "remove_option"), _panel()),
        spacing="2", width="100%"), width="100%")


def _history_card() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(tr("プランの履歴"), size="3", as_="h2"),
        rx.vstack(rx.foreach(MyContractState.timeline, lambda r: rx.vstack(
            rx.flex(rx.text(r["plan"], weight="medium"), rx.spacer(), _state_badge(r["state"]), width="100%",
                    align="center", gap="2"),
            rx.text(r["span"], "・", r["price"], size="2", color="var(--gray-11)"),
            spacing="1", width="100%", padding_y="0.4em", border_bottom="1px solid var(--gray-4)")),
            spacing="0", width="100%", id="plan-history"),
        spacing="2", width="100%"), width="100%")


def _ending_card() -> rx.Component:
    k = MyContractState.contract
    return rx.card(rx.vstack(
        rx.heading(tr("解約について"), size="3", as_="h2"),
        rx.cond(k["initial_cancellation"].to(str) != "", rx.callout(
            rx.text(tr("初期契約解除"), ": ", rx.el.strong(k["initial_cancellation"].to(str)),
                    t("my_initial_cancellation_until")),
            icon="calendar", color_scheme="blue", width="100%", id="initial-cancellation")),
        rx.text(k["early_termination"].to(str), size="2", id="early-termination"),
        spacing="2", width="100%"), width="100%")


def my_contract_page() -> rx.Component:
    """One contract."""
    k: rx.Var[dict[str, Any]] = MyContractState.contract
    return my_shell(
        rx.cond(k.contains("id"), tr("契約") + " " + k["code"].to(str), t("my_contracts")),
        messages(MyContractState),
        rx.cond(k.contains("id"), rx.vstack(
            _summary(), _plan_card(), _options_card(), _history_card(), _ending_card(),
            rx.link(tr("← 契約の一覧"), href=routes.MY_CONTRACTS, size="2", padding_y="0.75em"),
            spacing="3", width="100%")),
    )
