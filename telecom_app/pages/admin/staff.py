"""Staff administration (担当者管理, admins only): list, register, change role, disable, MFA reset request."""

from __future__ import annotations

import reflex as rx

from components.admin.shell import admin_shell
from components.i18n import t
from components.widgets import field, form_label, messages, section, status_badge, table
from state.admin.staff import StaffState
from state.preferences import Preferences


def _l(ja: str, en: str) -> rx.Var:
    """A label of this page in the current UI language."""
    return rx.cond(Preferences.lang == "en", en, ja)


def _error_of(name: str) -> rx.Component:
    return rx.cond(StaffState.field_errors.contains(name),
                   rx.text(StaffState.field_errors[name], color="red", size="2", data_error=name))


def _role_select(element_id: str, default: rx.Var | str | None = None) -> rx.Component:
    name = "role"
    return rx.vstack(
        form_label(_l("役割", "Role"), element_id),
        rx.select.root(
            rx.select.trigger(placeholder=_l("役割を選択", "Choose a role"), id=element_id, width="100%"),
            rx.select.content(rx.foreach(StaffState.role_options, lambda o: rx.select.item(
                o["label"], value=o["value"]))),
            name=name, required=True, **({"default_value": default} if default is not None else {}),
        ),
        _error_of(name),
        spacing="1", width="100%",
    )


def _staff_row(s) -> rx.Component:
    return rx.table.row(
        rx.table.cell(s["display_name"], white_space="nowrap"),
        rx.table.cell(s["email"], white_space="nowrap"),
        rx.table.cell(s["role_label"], white_space="nowrap"),
        rx.table.cell(status_badge(rx.cond(s["is_active"], "active", "terminated"), s["active_label"])),
        rx.table.cell(rx.badge(s["mfa_label"], color_scheme=rx.cond(s["mfa_enrolled"], "green", "amber"),
                               variant="soft")),
        rx.table.cell(s["last_sign_in"], white_space="nowrap"),
        rx.table.cell(rx.cond(
            s["is_active"].to(bool) & ~s["is_self"].to(bool),
            rx.flex(
                rx.button(_l("役割変更", "Role"), size="1", variant="outline",
                          on_click=StaffState.ask("role", s["id"])),
                rx.cond(s["mfa_enrolled"], rx.button(
                    _l("MFA リセットを申請", "Request MFA reset"), size="1", variant="outline",
                    on_click=StaffState.ask("mfa_reset", s["id"]))),
                rx.button(_l("無効化", "Disable"), size="1", variant="outline", color_scheme="red",
                          on_click=StaffState.ask("disable", s["id"])),
                spacing="2", wrap="nowrap",
            ),
            rx.cond(s["is_self"].to(bool), rx.text(_l("（自分）", "(you)"), size="1", color="gray")),
        )),
        data_staff=s["email"],
    )


def _new_staff_form() -> rx.Component:
    errors = StaffState.field_errors
    return rx.form(
        rx.vstack(
            field("email", "メールアドレス", errors, type="email", required=True, autocomplete="off"),
            field("display_name", "氏名", errors, required=True),
            _role_select("new-staff-role"),
            field("password", "初期パスワード（12文字以上）", errors, type="password", required=True,
                  autocomplete="new-password"),
            rx.button(t("register"), type="submit", id="create-staff"),
            spacing="3", width="100%", max_width="560px",
        ),
        on_submit=StaffState.create, reset_on_submit=False, id="new-staff-form",
    )


def _dialog_description() -> rx.Component:
    who = StaffState.target["display_name"].to(str) + "（" + StaffState.target["email"].to(str) + "）"
    return rx.match(
        StaffState.pending_event,
        ("role", "担当者 " + who + " の役割（現在: " + StaffState.target["role_label"].to(str)
         + "）を変更します。ログイン中のセッションは直ちに終了します。"),
        ("disable", "担当者 " + who + " のアカウントを無効にします。ログイン中のセッションは直ちに終了し、"
         "以後ログインできません。この操作はこの画面からは元に戻せません。"),
        ("mfa_reset", "担当者 " + who + " の二要素認証リセットを申請します。別の管理者が承認すると、"
         "認証アプリとリカバリーコードが無効になり、次回ログイン時に再設定が必要になります。"),
        "",
    )


def _action_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(StaffState.pending_label),
            rx.dialog.description(_dialog_description()),
            rx.form(
                rx.vstack(
                    rx.cond(StaffState.pending_event == "role",
                            _role_select("dialog-role", StaffState.target["role"].to(str))),
                    rx.cond(StaffState.pending_event == "disable", rx.vstack(
                        rx.el.label(rx.text("確認のため、メールアドレス ", rx.code(StaffState.target["email"].to(str)),
                                            " を入力してください。", size="2"), html_for="confirm_email"),
                        rx.input(name="confirm_email", id="confirm_email", width="100%", autocomplete="off"),
                        _error_of("confirm_email"),
                        spacing="1", width="100%",
                    )),
                    form_label(t("reason"), "confirm-reason"),
                    rx.text_area(name="reason", required=True, width="100%", id="confirm-reason"),
                    _error_of("reason"),
                    rx.cond(StaffState.error != "", rx.text(StaffState.error, color="red", size="2")),
                    rx.hstack(
                        rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                  on_click=StaffState.cancel),
                        rx.button(rx.cond(StaffState.pending_event == "mfa_reset", _l("申請する", "Request"),
                                          t("execute")),
                                  type="submit", color_scheme="red", id="confirm-submit"),
                        justify="end", width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=StaffState.confirm, reset_on_submit=False,
            ),
        ),
        open=StaffState.pending_event != "",
    )


def staff_page() -> rx.Component:
    """Staff users with their role, state, MFA and last sign-in; registering and managing them."""
    return admin_shell(
        messages(StaffState),
        rx.cond(StaffState.loaded, rx.vstack(
            section(_l("担当者一覧", "Staff users"),
                    table(["氏名", "メールアドレス", "権限", "状態", _l("二要素認証", "MFA"),
                           _l("最終ログイン", "Last sign-in"), _l("操作", "Actions")],
                          StaffState.rows, _staff_row),
                    id="staff-list"),
            section(_l("担当者の登録", "Register a staff user"), _new_staff_form()),
            _action_dialog(),
            spacing="4", width="100%",
        ), rx.cond(StaffState.error != "", rx.fragment(), rx.text(t("loading")))),
        title=_l("担当者管理", "Staff administration"),
    )
