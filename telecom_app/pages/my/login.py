"""The customer's way in: sign-in, the authenticator step, an invitation, a forgotten password."""

from __future__ import annotations

import reflex as rx

from components.frame import language_switch, usable_once_loaded
from components.i18n import t, tr
from components.widgets import messages
from state.my.login import MyLoginState, MyPasswordResetState
from telecom_app import routes

TOUCH = "48px"


def _frame(*children) -> rx.Component:
    return usable_once_loaded(rx.center(
        rx.vstack(
            rx.flex(rx.heading(t("my_app_name"), size="5", as_="h1"), rx.spacer(), language_switch(),
                    width="100%", align="center"),
            *children,
            spacing="4", width="100%", max_width="420px",
        ),
        padding="1em", min_height="100vh", align_items="start", padding_top="2em", width="100%",
    ))


def _input(name: str, label_key: str, errors: rx.Var | None = None, **props) -> rx.Component:
    """An input with its label tied to it (tapping the label focuses the input) and its error below."""
    return rx.vstack(
        rx.el.label(t(label_key), html_for=name, style={"font_size": "14px", "font_weight": "500"}),
        rx.input(name=name, id=name, width="100%", height=TOUCH, size="3", **props),
        rx.cond(errors.contains(name), rx.text(errors[name], color="red", size="2", data_error=name))
        if errors is not None else rx.fragment(),
        spacing="1", width="100%",
    )


def _button(label_key: str, button_id: str, **props) -> rx.Component:
    return rx.button(t(label_key), width="100%", size="4", id=button_id, **props)


def _password_step() -> rx.Component:
    return rx.vstack(
        rx.heading(t("my_sign_in_title"), size="4"),
        rx.form(
            rx.vstack(
                _input("email", "email", type="email", autocomplete="username", required=True),
                _input("password", "password", type="password", autocomplete="current-password", required=True),
                _button("sign_in", "my-sign-in", type="submit"),
                spacing="3", width="100%",
            ),
            on_submit=MyLoginState.submit_password, reset_on_submit=True, width="100%",
        ),
        rx.button(rx.icon("fingerprint", size=20), tr("パスキーでログイン"), width="100%", size="4", variant="outline",
                  id="passkey-sign-in", on_click=MyLoginState.start_passkey_sign_in),
        rx.link(t("my_forgot"), href=routes.MY_FORGOT, id="forgot", min_height=TOUCH, display="flex",
                align_items="center"),
        spacing="3", width="100%",
    )


def _code_step() -> rx.Component:
    return rx.form(
        rx.vstack(
            _input("code", "totp_code", autocomplete="one-time-code", input_mode="numeric", required=True),
            _button("verify", "my-verify", type="submit"),
            spacing="3", width="100%",
        ),
        on_submit=MyLoginState.submit_code, reset_on_submit=True, width="100%",
    )


def _enroll_step() -> rx.Component:
    return rx.vstack(
        rx.heading(t("enroll_title"), size="4"),
        rx.text(t("enroll_help"), size="2"),
        rx.center(rx.image(src=MyLoginState.qr_svg, width="200px", height="200px", alt="QR"), width="100%"),
        rx.text(tr("キー"), ": ", rx.code(MyLoginState.secret, id="totp-secret", word_break="break_all"), size="2"),
        _code_step(),
        spacing="3", width="100%",
    )


def _recovery_step() -> rx.Component:
    return rx.vstack(
        rx.heading(t("recovery_title"), size="4"),
        rx.text(t("recovery_help"), size="2"),
        rx.grid(rx.foreach(MyLoginState.recovery_codes, lambda c: rx.code(c, size="3")), columns="2", spacing="2",
                id="recovery-codes"),
        _button("continue", "my-continue", on_click=MyLoginState.continue_after_recovery_codes),
        spacing="3", width="100%",
    )


def _invite_step() -> rx.Component:
    return rx.vstack(
        rx.heading(t("my_invite_title"), size="4"),
        rx.text(MyLoginState.invite_company, t("my_invite_from"), MyLoginState.invite_name, t("my_invite_as"),
                MyLoginState.invite_role, t("my_invite_end"), size="2", id="invite-summary"),
        rx.text(t("email"), ": ", MyLoginState.invite_email, size="2"),
        rx.text(t("my_password_rules"), size="2", color="var(--gray-11)"),
        rx.form(
            rx.vstack(
                _input("password", "my_new_password", MyLoginState.field_errors, type="password",
                       autocomplete="new-password", required=True),
                _input("password_again", "my_password_again", MyLoginState.field_errors, type="password",
                       autocomplete="new-password", required=True),
                _button("my_set_password", "accept-invitation", type="submit"),
                spacing="3", width="100%",
            ),
            on_submit=MyLoginState.accept_invitation, width="100%",
        ),
        spacing="3", width="100%",
    )


def _steps() -> rx.Component:
    return rx.match(
        MyLoginState.stage,
        ("mfa", _code_step()),
        ("enroll", _enroll_step()),
        ("recovery", _recovery_step()),
        ("invite", _invite_step()),
        ("invite_invalid", rx.link(t("my_back_to_sign_in"), href=routes.MY_LOGIN)),
        _password_step(),
    )


def my_login_page() -> rx.Component:
    """/my/login."""
    return _frame(messages(MyLoginState), _steps())


def my_invite_page() -> rx.Component:
    """/my/invite/<token>: accept an invitation."""
    return _frame(messages(MyLoginState), _steps())


def my_forgot_page() -> rx.Component:
    """/my/forgot: ask for a reset link."""
    return _frame(
        rx.heading(t("my_forgot_title"), size="4"),
        messages(MyPasswordResetState),
        rx.cond(
            MyPasswordResetState.sent,
            rx.link(t("my_back_to_sign_in"), href=routes.MY_LOGIN),
            rx.vstack(
                rx.text(t("my_forgot_help"), size="2"),
                rx.form(
                    rx.vstack(
                        _input("email", "email", type="email", autocomplete="username", required=True),
                        _button("my_send_link", "send-reset-link", type="submit"),
                        spacing="3", width="100%",
                    ),
                    on_submit=MyPasswordResetState.request_link, width="100%",
                ),
                rx.link(t("my_back_to_sign_in"), href=routes.MY_LOGIN),
                spacing="3", width="100%",
            ),
        ),
    )


def my_reset_page() -> rx.Component:
    """/my/reset/<token>: choose a new password."""
    return _frame(
        rx.heading(t("my_forgot_title"), size="4"),
        messages(MyPasswordResetState),
        rx.cond(
            MyPasswordResetState.done,
            rx.link(t("my_back_to_sign_in"), href=routes.MY_LOGIN, id="back-to-sign-in"),
            rx.vstack(
                rx.text(t("my_password_rules"), size="2", color="var(--gray-11)"),
                rx.form(
                    rx.vstack(
                        _input("password", "my_new_password", MyPasswordResetState.field_errors, type="password",
                               autocomplete="new-password", required=True),
                        _input("password_again", "my_password_again", MyPasswordResetState.field_errors,
                               type="password", autocomplete="new-password", required=True),
                        _button("my_set_password", "set-new-password", type="submit"),
                        spacing="3", width="100%",
                    ),
                    on_submit=MyPasswordResetState.set_new_password, width="100%",
                ),
                spacing="3", width="100%",
            ),
        ),
    )
