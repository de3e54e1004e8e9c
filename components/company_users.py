"""The company's people in the customer app, as one section: who signs in, with which role, lines and rights;
open invitations; the invite form. Staff show it on the customer's page; a 法人管理者 on /my/users."""

from __future__ import annotations

import reflex as rx

from components.i18n import tr
from components.widgets import field, messages, status_badge


def _person(state, person: rx.Var) -> rx.Component:
    is_user = person["kind"] == "user"
    return rx.card(
        rx.vstack(
            rx.flex(rx.text(person["name"], weight="bold"), rx.spacer(),
                    status_badge(person["status"], person["status_label"]), width="100%", align="center", gap="2"),
            rx.text(person["email"], size="2", word_break="break_all"),
            rx.text(person["role_label"], " · ",
                    rx.cond(person["all_lines"].to(bool), tr("すべての回線"),
                            rx.cond(person["lines"].to(list[str]).length() > 0,
                                    person["lines"].to(list[str]).join("、"), tr("回線なし"))), size="2"),
            rx.cond(is_user & ~person["all_lines"].to(bool),
                    rx.text(tr("請求の閲覧"), ": ", rx.cond(person["can_view_bills"].to(bool), tr("可"), tr("不可")),
                            size="2")),
            rx.cond(person["kind"] == "invitation",
                    rx.text(tr("招待の有効期限"), ": ", person["expires_at"], size="1", color="var(--gray-11)")),
            rx.cond(state.can_manage & is_user & person["is_active"].to(bool) & ~person["is_me"].to(bool),
                    rx.flex(
                        rx.cond(~person["all_lines"].to(bool),
                                rx.button(rx.cond(person["can_view_bills"].to(bool), tr("請求の閲覧を止める"),
                                                  tr("請求の閲覧を許可")),
                                          size="3", variant="soft", on_click=state.toggle_bills(person["id"]))),
                        rx.button(tr("ログインを停止"), size="3", variant="outline", color_scheme="red",
                                  on_click=state.remove(person["id"]), id=f"remove-user-{person['id']}"),
                        gap="2", wrap="wrap")),
            spacing="1", width="100%",
        ),
        width="100%", data_person=person["email"],
    )


def company_users(state) -> rx.Component:
    """The section's content for a state built on state.company_users.CompanyUsersMixin."""
    e = state.field_errors
    return rx.vstack(
        messages(state),
        rx.vstack(rx.foreach(state.people, lambda p: _person(state, p)), spacing="2", width="100%"),
        rx.cond(state.can_manage, rx.button(rx.cond(state.inviting, tr("閉じる"), tr("招待する")), size="3", variant="soft",
                                            on_click=state.toggle, id="invite-toggle")),
        rx.cond(state.inviting, rx.form(rx.vstack(
            field("name", "氏名", e, required=True, autocomplete="off"),
            field("email", "メールアドレス", e, required=True, type="email", autocomplete="off"),
            rx.el.label(tr("役割"), html_for="role", style={"font_size": "14px", "font_weight": "500"}),
            rx.el.select(rx.el.option(tr("利用者（割り当てた回線だけ）"), value="user"),
                         rx.el.option(tr("法人管理者（すべての回線と請求）"), value="customer_admin"),
                         name="role", id="role", default_value="user",
                         style={"min_height": "44px", "width": "100%"}),
            rx.text(tr("利用者が見る回線"), size="2", weight="medium"),
            rx.foreach(state.line_choices, lambda line: rx.el.label(
                rx.el.input(type="checkbox", name="line_" + line["id"].to(str), id="line_" + line["id"].to(str),
                            style={"width": "22px", "height": "22px"}),
                line["msisdn"], html_for="line_" + line["id"].to(str),
                style={"display": "flex", "gap": "0.5em", "align_items": "center", "min_height": "44px"})),
            rx.button(tr("招待メールを送る"), type="submit", size="3", id="invite-submit"),
            spacing="2", width="100%", max_width="480px"),
            on_submit=state.invite, reset_on_submit=False, key=state.form_key)),
        spacing="3", width="100%", id="company-users",
    )
