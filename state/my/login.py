"""A customer's way in: sign-in (password, then the authenticator code or a recovery code), accepting an
invitation (choose a password, set up the authenticator, write down recovery codes), and a forgotten password.

The last step hands the browser a one-time ticket; a full page load of /api/my/auth/complete exchanges it
for the customer's HttpOnly session cookie and opens the page the person came for (`next`, a /my path).
"""

from __future__ import annotations

import json

import reflex as rx

from services.platform.errors import DomainError, NotAuthenticated, ValidationFailed
from services.security import customer_auth, passkeys
from state.feedback import MessagesMixin
from state.my import webauthn
from state.session import CUSTOMER, public, resolve
from telecom_app import routes

PASSWORDS_DIFFER = "確認のため同じパスワードを2回入力してください。"


def _next_path(value: str | None) -> str:
    """Where to go after signing in: a path inside /my only (anything else is ignored)."""
    value = (value or "").strip()
    return value if routes.is_my_path(value) else ""


class MyLoginState(MessagesMixin, rx.State):
    """The steps: password | invite -> mfa | enroll -> recovery -> session."""

    stage: str = "password"
    qr_svg: str = ""
    secret: str = ""
    recovery_codes: list[str] = []
    field_errors: dict[str, str] = {}
    invite_company: str = ""
    invite_name: str = ""
    invite_email: str = ""
    invite_role: str = ""
    _challenge: str = ""
    _ticket: str = ""
    _next: str = ""
    _invite_token: str = ""
    _passkey_handle: str = ""

    def _clear(self) -> None:
        self.stage, self.error, self.notice, self.qr_svg, self.secret = "password", "", "", "", ""
        self.recovery_codes, self.field_errors, self._challenge, self._ticket = [], {}, "", ""
        self.invite_company = self.invite_name = self.invite_email = self.invite_role = ""
        self._invite_token = self._passkey_handle = ""

    @rx.event
    @public
    def reset_form(self):
        """Page load of /my/login: the password step; someone already signed in goes straight on."""
        self._clear()
        params = self.router.url.query_parameters
        self._next = _next_path(params.get("next"))
        if params.get("expired"):
            self.notice = "ログインの有効期限が切れました。もう一度ログインしてください。"
        try:
            resolve(self.router, CUSTOMER)
        except NotAuthenticated:
            return None
        return rx.redirect(self._next or routes.MY_HOME)

    @rx.event
    @public
    def load_invitation(self):
        """Page load of /my/invite/<token>: who invited whom, or why the link no longer works."""
        self._clear()
        self._next = ""
        token = str(self.router._page.params.get("token") or "")
        try:
            info = customer_auth.invitation(token)
        except DomainError as exc:
            self.stage, self.error = "invite_invalid", exc.message
            return
        self.stage, self._invite_token = "invite", token
        self.invite_company, self.invite_name = info["company"], info["name"]
        self.invite_email, self.invite_role = info["email"], info["role_label"]

    @rx.event
    @public
    def submit_password(self, form: dict):
        """Check the address and password; go on to the code or to setting up the authenticator."""
        if self.stage != "password":
            return
        self.error = ""
        try:
            step = customer_auth.begin_sign_in((form.get("email") or "").strip(), form.get("password") or "",
                                               client_ip=self.router.session.client_ip)
        except DomainError as exc:
            self.error = exc.message
            return
        self._go_to(step)

    @rx.event
    @public
    def accept_invitation(self, form: dict):
        """Choose a password for the invitation, then set up the authenticator."""
        if self.stage != "invite" or not self._invite_token:
            return
        self.error, self.field_errors = "", {}
        password = form.get("password") or ""
        if password != (form.get("password_again") or ""):
            self.field_errors = {"password_again": PASSWORDS_DIFFER}
            return
        try:
            step = customer_auth.accept_invitation(self._invite_token, password=password,
                                                   client_ip=self.router.session.client_ip)
        except ValidationFailed as exc:
            self.error, self.field_errors = exc.message, dict(exc.fields)
            return
        except DomainError as exc:
            self.error = exc.message
            return
        self._invite_token = ""
        self._go_to(step)

    def _go_to(self, step) -> None:
        self._challenge, self.stage = step.challenge_token, step.stage
        if step.stage == "enroll":
            enrollment = customer_auth.start_enrollment(step.challenge_token)
            self.qr_svg, self.secret = enrollment.qr_svg_data_uri, enrollment.secret

    @rx.event
    @public
    def submit_code(self, form: dict):
        """Check the authenticator code (or a recovery code) and finish signing in."""
        if self.stage not in ("mfa", "enroll") or not self._challenge:
            return None
        self.error = ""
        code = (form.get("code") or "").strip()
        try:
            if self.stage == "enroll":
                result = customer_auth.complete_enrollment(self._challenge, code)
                self._ticket, self.recovery_codes = result.ticket, result.recovery_codes
                self.stage, self.qr_svg, self.secret = "recovery", "", ""
                return None
            ticket = customer_auth.verify_mfa(self._challenge, code, client_ip=self.router.session.client_ip)
        except DomainError as exc:
            self.error = exc.message
            return None
        return self._finish(ticket)

    @rx.event
    @public
    def continue_after_recovery_codes(self):
        """The recovery codes are written down: open the session."""
        if self.stage != "recovery" or not self._ticket:
            self.stage = "password"
            return None
        return self._finish(self._ticket)

    @rx.event
    @public
    def start_passkey_sign_in(self):
        """「パスキーでログイン」: ask the device for a passkey of this site (the person picks one and unlocks it)."""
        if self.stage != "password":
            return None
        self.error, self.notice = "", ""
        try:
            self._passkey_handle, options = passkeys.sign_in_options(origin=self.router.headers.origin)
        except DomainError as exc:
            self.error = exc.message
            return None
        return rx.call_script(webauthn.get_script(options), callback=MyLoginState.finish_passkey_sign_in)

    @rx.event
    @public
    def finish_passkey_sign_in(self, result: str):
        """The device answered (or the person cancelled): check the passkey and finish signing in."""
        handle, self._passkey_handle = self._passkey_handle, ""
        if self.stage != "password" or not handle:
            return None
        problem = webauthn.browser_problem(result)
        if problem:
            self.error = problem
            return None
        try:
            ticket = passkeys.sign_in(handle, result, client_ip=self.router.session.client_ip,
                                      origin=self.router.headers.origin)
        except DomainError as exc:
            self.error = exc.message
            return None
        return self._finish(ticket)

    def _finish(self, ticket: str):
        self._challenge, self._ticket = "", ""
        target = routes.my_complete_sign_in(ticket, self._next)
        return rx.call_script(f"window.location.assign({json.dumps(target)})")


class MyPasswordResetState(MessagesMixin, rx.State):
    """A forgotten password: ask for a link by mail, then choose a new password from the link."""

    sent: bool = False
    done: bool = False
    field_errors: dict[str, str] = {}
    _token: str = ""

    @rx.event
    @public
    def load_forgot(self):
        """Page load of /my/forgot."""
        self.sent, self.error, self.notice = False, "", ""

    @rx.event
    @public
    def request_link(self, form: dict):
        """Mail a reset link; the answer is the same whether or not the address is registered."""
        self.error = ""
        try:
            self.notice = customer_auth.request_password_reset((form.get("email") or "").strip(),
                                                                client_ip=self.router.session.client_ip)
        except DomainError as exc:
            self.error = exc.message
            return
        self.sent = True

    @rx.event
    @public
    def load_reset(self):
        """Page load of /my/reset/<token>."""
        self.done, self.error, self.notice, self.field_errors = False, "", "", {}
        self._token = str(self.router._page.params.get("token") or "")

    @rx.event
    @public
    def set_new_password(self, form: dict):
        """Set the new password (every signed-in device is signed out)."""
        if self.done or not self._token:
            return
        self.error, self.field_errors = "", {}
        password = form.get("password") or ""
        if password != (form.get("password_again") or ""):
            self.field_errors = {"password_again": PASSWORDS_DIFFER}
            return
        try:
            customer_auth.reset_password(self._token, password)
        except ValidationFailed as exc:
            self.error, self.field_errors = exc.message, dict(exc.fields)
            return
        except DomainError as exc:
            self.error = exc.message
            return
        self.done, self._token = True, ""
        self.notice = "パスワードを変更しました。新しいパスワードでログインしてください。"
