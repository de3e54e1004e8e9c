"""Staff sign-in: password, then TOTP (or first-time enrolment with a QR code).

The last step hands the browser a one-time ticket; a full page load of
/api/auth/complete exchanges it for the HttpOnly session cookie.
"""

from __future__ import annotations

import json

import reflex as rx

from services import auth
from services.errors import DomainError
from state.base import MessagesMixin, public


class LoginState(MessagesMixin, rx.State):
    """The sign-in form's steps: password -> mfa | enroll -> (recovery codes) -> session."""

    stage: str = "password"
    email: str = ""
    qr_svg: str = ""
    secret: str = ""
    recovery_codes: list[str] = []
    _challenge: str = ""
    _ticket: str = ""

    @rx.event
    @public
    def reset_form(self):
        """Start again from the password step (page load)."""
        self.stage, self.error, self.qr_svg, self.secret = "password", "", "", ""
        self.recovery_codes, self._challenge, self._ticket = [], "", ""
        params = self.router.url.query_parameters
        if params.get("expired"):
            self.notice = "セッションの有効期限が切れました。もう一度ログインしてください。"
        else:
            self.notice = ""

    @rx.event
    @public
    def submit_password(self, form: dict):
        """Check email and password; go on to the TOTP or enrolment step."""
        self.error = ""
        self.email = (form.get("email") or "").strip()
        try:
            step = auth.begin_sign_in(self.email, form.get("password") or "",
                                      client_ip=self.router.session.client_ip)
        except DomainError as exc:
            self.error = exc.message
            return
        self._challenge = step.challenge_token
        self.stage = step.stage
        if step.stage == "enroll":
            enrollment = auth.start_enrollment(step.challenge_token)
            self.qr_svg, self.secret = enrollment.qr_svg_data_uri, enrollment.secret

    @rx.event
    @public
    def submit_code(self, form: dict):
        """Check the TOTP (or a recovery code) and finish signing in."""
        self.error = ""
        code = (form.get("code") or "").strip()
        try:
            if self.stage == "enroll":
                result = auth.complete_enrollment(self._challenge, code)
                self._ticket, self.recovery_codes = result.ticket, result.recovery_codes
                self.stage, self.qr_svg, self.secret = "recovery", "", ""
                return
            ticket = auth.verify_mfa(self._challenge, code)
        except DomainError as exc:
            self.error = exc.message
            return
        return self._finish(ticket)

    @rx.event
    @public
    def continue_after_recovery_codes(self):
        """The recovery codes were written down: open the session."""
        if not self._ticket:
            self.stage = "password"
            return
        return self._finish(self._ticket)

    def _finish(self, ticket: str):
        self._challenge, self._ticket = "", ""
        url = f"/api/auth/complete?ticket={ticket}"
        return rx.call_script(f"window.location.assign({json.dumps(url)})")
