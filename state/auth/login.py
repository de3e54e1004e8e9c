"""Staff sign-in: password, then TOTP (or first-time enrolment with a QR code).

The last step hands the browser a one-time ticket; a full page load of
/api/auth/complete exchanges it for the HttpOnly session cookie. After single sign-on without
MFA asserted by the provider, /api/auth/oidc/callback leaves our TOTP (or enrolment) challenge
in an HttpOnly cookie, and the page load resumes at that step.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

import reflex as rx

from services.platform.config import plain_http_allowed
from services.platform.errors import DomainError
from services.security import auth, oidc
from state.feedback import MessagesMixin
from state.session import cookie_value, public
from telecom_app import routes

PLAIN_HTTP = ("このアドレスは暗号化されていない http のため、ログインを完了できません。"
              "https のアドレスで開くか、このコンピューター上で http://localhost から開いてください。")


class LoginState(MessagesMixin, rx.State):
    """The sign-in form's steps: password -> mfa | enroll -> (recovery codes) -> session."""

    stage: str = "password"
    email: str = ""
    sso_enabled: bool = False
    qr_svg: str = ""
    secret: str = ""
    recovery_codes: list[str] = []
    _challenge: str = ""
    _ticket: str = ""

    @rx.event
    @public
    def reset_form(self):
        """Page load: the password step, or the TOTP / enrolment step an SSO sign-in left open."""
        self.stage, self.error, self.qr_svg, self.secret = "password", "", "", ""
        self.recovery_codes, self._challenge, self._ticket = [], "", ""
        self.sso_enabled = oidc.is_configured()
        params = self.router.url.query_parameters
        if params.get("expired"):
            self.notice = "セッションの有効期限が切れました。もう一度ログインしてください。"
        else:
            self.notice = ""
        if params.get("sso_failed"):
            self.error = auth.SSO_FAILED
            return
        origin = urlparse(self.router.headers.origin or "")
        if origin.scheme == "http" and not plain_http_allowed("http", origin.hostname or ""):
            self.error = PLAIN_HTTP  # the Secure session cookie would never come back over http
            return
        token = cookie_value(self.router, routes.SSO_CHALLENGE_COOKIE)
        stage = auth.pending_sign_in_stage(token)
        if stage is None:
            return
        self._challenge, self.stage = token, stage
        if stage == "enroll":
            try:
                enrollment = auth.start_enrollment(token)
            except DomainError as exc:
                self.stage, self._challenge, self.error = "password", "", exc.message
                return
            self.qr_svg, self.secret = enrollment.qr_svg_data_uri, enrollment.secret

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
            ticket = auth.verify_mfa(self._challenge, code, client_ip=self.router.session.client_ip)
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
        return rx.call_script(f"window.location.assign({json.dumps(routes.complete_sign_in(ticket))})")
