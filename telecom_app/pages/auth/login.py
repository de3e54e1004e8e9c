"""Sign-in pages: password, TOTP or enrolment with a QR code, recovery codes."""

from __future__ import annotations

import reflex as rx

from components.frame import auth_frame
from components.i18n import t
from components.widgets import form_label, messages
from state.auth.login import LoginState
from state.preferences import Preferences
from telecom_app import routes


def _sso_link() -> rx.Component:
    """Single sign-on: a full page load of the API route (not a client-side route change)."""
    return rx.cond(
        LoginState.sso_enabled,
        rx.vstack(
            rx.separator(size="4"),
            rx.button(
                rx.el.a(rx.cond(Preferences.lang == "en", "Sign in with SSO", "SSOでログイン"),
                        href=routes.API_OIDC_LOGIN, reload_document=True, id="sso-login"),
                as_child=True, variant="outline", width="100%",
            ),
            spacing="3", width="100%",
        ),
    )


def _password_step() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.vstack(
                form_label(t("email"), "email"),
                rx.input(name="email", type="email", id="email", autocomplete="username", required=True,
                         width="100%"),
                form_label(t("password"), "password"),
                rx.input(name="password", type="password", id="password", autocomplete="current-password",
                         required=True, width="100%"),
                rx.button(t("sign_in"), type="submit", width="100%", id="sign-in"),
                spacing="2", width="100%",
            ),
            on_submit=LoginState.submit_password, reset_on_submit=True, width="100%",
        ),
        _sso_link(),
        spacing="3", width="100%",
    )


def _code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            form_label(t("totp_code"), "code"),
            rx.input(name="code", id="code", autocomplete="one-time-code", input_mode="text",
                     required=True, width="100%"),
            rx.button(t("verify"), type="submit", width="100%", id="verify-code"),
            spacing="2", width="100%",
        ),
        on_submit=LoginState.submit_code, reset_on_submit=True, width="100%",
    )


def _enroll_step() -> rx.Component:
    return rx.vstack(
        rx.heading(t("enroll_title"), size="3"),
        rx.text(t("enroll_help"), size="2"),
        rx.center(rx.image(src=LoginState.qr_svg, width="200px", height="200px", alt="TOTP QR"), width="100%"),
        rx.text("キー: ", rx.code(LoginState.secret), size="1"),
        _code_form(),
        spacing="3", width="100%",
    )


def _recovery_step() -> rx.Component:
    return rx.vstack(
        rx.heading(t("recovery_title"), size="3"),
        rx.text(t("recovery_help"), size="2"),
        rx.grid(rx.foreach(LoginState.recovery_codes, lambda c: rx.code(c)), columns="2", spacing="2"),
        rx.button(t("continue"), on_click=LoginState.continue_after_recovery_codes, width="100%"),
        spacing="3", width="100%",
    )


def login_page() -> rx.Component:
    """The staff sign-in page."""
    return auth_frame(
        messages(LoginState),
        rx.match(
            LoginState.stage,
            ("mfa", _code_form()),
            ("enroll", _enroll_step()),
            ("recovery", _recovery_step()),
            _password_step(),
        ),
    )
