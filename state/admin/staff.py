"""Staff administration screen (担当者管理): list, create, change role, disable, request an MFA reset."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.platform.permissions import ROLE_LABELS_JA, STAFF_ROLES
from services.security import staff_admin
from state.feedback import MessagesMixin, require_offered
from state.session import STAFF, actor, guarded

ACTION_LABELS = {
    "role": "役割の変更",
    "disable": "アカウントの無効化",
    "mfa_reset": "二要素認証リセットの申請",
}
ROLE_OPTIONS = [{"value": r.value, "label": ROLE_LABELS_JA[r]} for r in STAFF_ROLES]


def _reset_form(form_id: str):
    return rx.call_script(f"document.getElementById('{form_id}')?.reset()")


class StaffState(MessagesMixin, rx.State):
    """The staff list and the dialog of the one action being confirmed (admin only)."""

    rows: list[dict[str, Any]] = []
    loaded: bool = False
    role_options: list[dict[str, str]] = ROLE_OPTIONS
    pending_event: str = ""
    pending_label: str = ""
    target: dict[str, Any] = {}

    def _refresh(self) -> None:
        self.rows = staff_admin.list_staff(actor=actor())

    def _close(self) -> None:
        self.pending_event, self.pending_label, self.target = "", "", {}

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load every staff user (admin only)."""
        self.loaded, self.notice = False, ""
        self._close()
        self._refresh()
        self.loaded = True

    @rx.event
    @guarded(STAFF)
    def create(self, form: dict):
        """Register a staff user; they set up MFA at their first sign-in."""
        user = staff_admin.create_staff_user(
            actor=actor(), email=form.get("email") or "", display_name=form.get("display_name") or "",
            role=form.get("role") or "", password=form.get("password") or "")
        self.notice = f"担当者 {user.display_name} ({user.email}) を登録しました。初回ログイン時に二要素認証を設定します。"
        self._refresh()
        return _reset_form("new-staff-form")

    @rx.event
    @guarded(STAFF)
    def ask(self, event: str, staff_user_id: int):
        """Open the confirmation dialog of an action ("role", "disable", "mfa_reset") for one listed user."""
        row = next((r for r in self.rows if str(r["id"]) == str(staff_user_id)), None)
        require_offered(event in ACTION_LABELS and row is not None, f"StaffState.ask({event!r}, {staff_user_id!r})")
        self.field_errors = {}
        self.pending_event, self.pending_label = event, ACTION_LABELS[event]
        self.target = {k: row[k] for k in ("id", "email", "display_name", "role", "role_label")}

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close the dialog without changing anything."""
        self._close()

    @rx.event
    @guarded(STAFF)
    def confirm(self, form: dict):
        """Carry out the confirmed action with its reason, then show the list again."""
        require_offered(bool(self.target) and self.pending_event in ACTION_LABELS, "StaffState.confirm without a dialog")
        current, user_id, reason = actor(), int(self.target["id"]), form.get("reason") or ""
        who = f"{self.target['display_name']} ({self.target['email']})"
        event = self.pending_event
        if event == "role":
            user = staff_admin.change_staff_role(user_id, actor=current, role=form.get("role") or "",
                                                 reason=reason)
            self.notice = (f"{who} の役割を「{ROLE_LABELS_JA.get(user.role, user.role)}」にしました。"
                           "ログイン中のセッションは終了しました。")
        elif event == "disable":
            typed = (form.get("confirm_email") or "").strip().lower()
            if typed != str(self.target["email"]).lower():
                self.field_errors = {"confirm_email": "確認のため、この担当者のメールアドレスを正確に入力してください。"}
                return
            staff_admin.disable_staff_user(user_id, actor=current, reason=reason)
            self.notice = f"{who} を無効にしました。ログイン中のセッションは終了しました。"
        elif event == "mfa_reset":
            request = staff_admin.request_mfa_reset(user_id, actor=current, reason=reason).request
            self.notice = (f"{who} の二要素認証リセットを申請しました（申請番号 {request.id}）。"
                           "別の管理者が承認すると実行されます。")
        self._close()
        self._refresh()
