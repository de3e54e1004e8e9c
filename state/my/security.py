"""The customer's settings: the devices signed in to their account, signing out everywhere else, passkeys
(register this device, remove one), and 通知の設定 (which optional notices come by mail and LINE)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.ledger import notification_preferences
from services.security import customer_auth, passkeys
from state.feedback import MessagesMixin, int_param, require_offered
from state.my import webauthn
from state.session import CUSTOMER, actor, guarded

PASSKEY_REGISTERED = "この端末をパスキーとして登録しました。次回から「パスキーでログイン」でログインできます。"
PASSKEY_REMOVED = "パスキー「{name}」を削除しました。"
PREFERENCE_SAVED = "通知の設定を保存しました。"


class MySecurityState(MessagesMixin, rx.State):
    """Signed-in devices and passkeys."""

    devices: list[dict[str, Any]] = []
    passkeys: list[dict[str, Any]] = []
    _passkey_handle: str = ""
    _passkey_name: str = ""
    notice_preferences: list[dict[str, Any]] = []  # 通知の設定: one row per topic, a switch per channel
    preferences_editable: bool = False
    preferences_note: str = ""

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: every device signed in to this account, this one marked, and the person's passkeys."""
        self.notice = ""
        self._passkey_handle = self._passkey_name = ""
        self.devices = customer_auth.signed_in_devices(actor=actor())
        self.passkeys = passkeys.my_passkeys(actor=actor())
        self._load_preferences()

    def _load_preferences(self):
        found = notification_preferences.my_preferences(actor=actor())
        self.notice_preferences = found["rows"]
        self.preferences_editable, self.preferences_note = found["editable"], found["always_sent"]

    @rx.event
    @guarded(CUSTOMER)
    def set_preference(self, topic: str, channel: str, enabled: bool):
        """One switch of 通知の設定 (a 法人管理者; only a switch shown on the page)."""
        shown = {row["topic"] for row in self.notice_preferences}
        require_offered(self.preferences_editable and topic in shown and channel in ("mail", "line"),
                        f"preference {topic}/{channel}")
        self.notice = ""
        notification_preferences.set_preference(actor=actor(), topic=topic, channel=channel, enabled=enabled)
        self._load_preferences()
        self.notice = PREFERENCE_SAVED

    @rx.event
    @guarded(CUSTOMER)
    def sign_out_others(self):
        """Sign out every other device (this one stays signed in)."""
        ended = customer_auth.sign_out_other_devices(actor=actor())
        self.devices = customer_auth.signed_in_devices(actor=actor())
        self.notice = f"ほかの端末 {ended} 台をログアウトしました。" if ended else "ほかにログイン中の端末はありません。"

    @rx.event
    @guarded(CUSTOMER)
    def start_passkey_registration(self, form: dict):
        """「この端末をパスキーとして登録」: ask the device to make a passkey for this account."""
        self.notice = ""
        self._passkey_handle, options = passkeys.registration_options(actor=actor(),
                                                                      origin=self.router.headers.origin)
        self._passkey_name = str((form or {}).get("passkey_name") or "")[:passkeys.NAME_MAX]
        return rx.call_script(webauthn.create_script(options), callback=MySecurityState.finish_passkey_registration)

    @rx.event
    @guarded(CUSTOMER)
    def finish_passkey_registration(self, result: str):
        """The device answered (or the person cancelled): keep the new passkey."""
        handle, name = self._passkey_handle, self._passkey_name
        self._passkey_handle = self._passkey_name = ""
        if not handle:
            return
        problem = webauthn.browser_problem(result)
        if problem:
            self.error = problem
            return
        passkeys.register(handle, result, actor=actor(), name=name, origin=self.router.headers.origin)
        self.passkeys = passkeys.my_passkeys(actor=actor())
        self.notice = PASSKEY_REGISTERED

    @rx.event
    @guarded(CUSTOMER)
    def remove_passkey(self, passkey_id: int):
        """Remove one of the person's passkeys shown on the page."""
        shown = {p["id"]: p["name"] for p in self.passkeys}
        passkey_id = int_param(passkey_id)
        require_offered(passkey_id in shown, f"passkey {passkey_id}")
        self.notice = ""
        passkeys.remove_passkey(passkey_id, actor=actor())
        self.passkeys = passkeys.my_passkeys(actor=actor())
        self.notice = PASSKEY_REMOVED.format(name=shown[passkey_id])
