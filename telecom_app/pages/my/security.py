"""/my/security: signed-in devices, passkeys, signing out everywhere else, and signing out here."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from components.my.shell import my_shell
from components.widgets import messages
from state.my.security import MySecurityState
from state.my.shell import MyShellState
from telecom_app import routes


def _device(device: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(rx.text(device["user_agent"], size="2", word_break="break_all", flex="1"),
                    rx.cond(device["current"], rx.badge(t("my_this_device"), color_scheme="green")), gap="2",
                    width="100%"),
            rx.text(device["client_ip"], " · ", device["last_seen_at"], size="1", color="var(--gray-11)"),
            spacing="1", width="100%",
        ),
        width="100%",
    )


def _passkey(passkey: rx.Var) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.text(passkey["name"], size="2", weight="medium", word_break="break_all"),
                rx.text(t("my_passkey_added"), " ", passkey["created_at"],
                        rx.cond(passkey["last_used_at"] != "", rx.text.span(" · ", tr("最終利用"), " ",
                                                                            passkey["last_used_at"])),
                        size="1", color="var(--gray-11)"),
                spacing="1", flex="1", min_width="0",
            ),
            rx.button(tr("削除"), variant="outline", color_scheme="red", min_height="48px",
                      on_click=MySecurityState.remove_passkey(passkey["id"]), aria_label=tr("このパスキーを削除")),
            gap="2", align="center", width="100%",
        ),
        width="100%", data_passkey=passkey["name"],
    )


def _passkeys() -> rx.Component:
    """パスキー: the person's passkeys, and registering the device in hand."""
    return rx.vstack(
        rx.heading(tr("パスキー"), size="3", as_="h2"),
        rx.text(tr("パスキーを登録すると、この端末の指紋・顔認証や画面ロックだけでログインできます"
                   "（パスワードと確認コードは不要です）。"), size="2", color="var(--gray-11)"),
        rx.cond(MySecurityState.passkeys.length() > 0,
                rx.vstack(rx.foreach(MySecurityState.passkeys, _passkey), spacing="2", width="100%", id="passkeys"),
                rx.text(tr("登録されたパスキーはありません。"), size="2", id="no-passkeys")),
        rx.form(
            rx.vstack(
                rx.el.label(tr("パスキーの名前（任意）"), html_for="passkey_name",
                            style={"font_size": "14px", "font_weight": "500"}),
                rx.input(name="passkey_name", id="passkey_name", placeholder=tr("例: 仕事用のiPhone"), max_length=100,
                         width="100%", height="48px", size="3"),
                rx.button(rx.icon("fingerprint", size=20), tr("この端末をパスキーとして登録"), type="submit", size="4",
                          width="100%", id="register-passkey"),
                spacing="2", width="100%",
            ),
            on_submit=MySecurityState.start_passkey_registration, reset_on_submit=True, width="100%",
        ),
        spacing="3", width="100%",
    )


def _switch(row: rx.Var, channel: str) -> rx.Component:
    """One topic × channel switch; the label wraps it (tied), the whole row is the tap target (48 px)."""
    return rx.el.label(
        rx.switch(checked=row[channel].to(bool), disabled=~MySecurityState.preferences_editable, size="3",
                  on_change=MySecurityState.set_preference(row["topic"], channel),
                  id=f"pref-{row['topic']}-{channel}"),
        rx.text(row[f"{channel}_label"], size="2"),
        style={"display": "flex", "align_items": "center", "gap": "0.5em", "min_height": "48px",
               "min_width": "44px", "cursor": "pointer", "flex": "1"},
    )


def _preference(row: rx.Var) -> rx.Component:
    return rx.box(
        rx.text(row["topic_label"], size="2", weight="medium"),
        rx.flex(_switch(row, "mail"), _switch(row, "line"), gap="3", width="100%"),
        width="100%", border_bottom="1px solid var(--gray-4)", padding_bottom="0.25em",
        data_topic=row["topic"],
    )


def _notice_settings() -> rx.Component:
    """通知の設定: per topic, whether it also comes by mail and by LINE (the 法人管理者 changes them)."""
    return rx.vstack(
        rx.heading(t("my_notice_settings"), size="3", as_="h2"),
        rx.text(MySecurityState.preferences_note, size="2", color="var(--gray-11)"),
        rx.cond(~MySecurityState.preferences_editable,
                rx.text(tr("通知の設定は法人管理者が変更できます。"), size="2", id="preferences-read-only")),
        rx.vstack(rx.foreach(MySecurityState.notice_preferences, _preference), spacing="2", width="100%",
                  id="notice-preferences"),
        spacing="2", width="100%",
    )


def my_security_page() -> rx.Component:
    """Settings: devices and signing out."""
    return my_shell(
        t("my_security"),
        messages(MySecurityState),
        rx.heading(t("my_devices"), size="3", as_="h2"),
        rx.vstack(rx.foreach(MySecurityState.devices, _device), spacing="2", width="100%", id="devices"),
        _passkeys(),
        _notice_settings(),
        rx.cond(MyShellState.is_company_admin,
                rx.link(tr("利用者の管理（招待・回線・請求の閲覧）"), href=routes.MY_USERS, id="manage-users",
                        min_height="48px", display="flex", align_items="center")),
        rx.link(t("my_payment_method"), tr("（カード・口座振替）"), href=routes.MY_PAYMENT, id="payment-method",
                min_height="48px", display="flex", align_items="center"),
        rx.button(t("my_sign_out_others"), size="4", variant="outline", width="100%",
                  on_click=MySecurityState.sign_out_others, id="sign-out-others"),
        rx.button(t("sign_out"), size="4", color_scheme="gray", width="100%", on_click=MyShellState.sign_out,
                  id="my-sign-out"),
    )
