"""The people of one company in the customer app — invited, their lines, their rights, removed — as staff see
them on the customer's page and as the company's 法人管理者 sees them in /my. The same services serve both;
each audience's state adds its own guarded handlers around the shared steps here."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.ledger import customer_users
from services.platform.permissions import Actor
from state.feedback import MessagesMixin, int_param, require_offered


class CompanyUsersMixin(MessagesMixin, rx.State, mixin=True):
    """Rows of people and open invitations, the company's lines to choose from, and the invite form."""

    people: list[dict[str, Any]] = []
    line_choices: list[dict[str, Any]] = []  # {"id", "msisdn"} of the company's lines
    can_manage: bool = False
    inviting: bool = False
    field_errors: dict[str, str] = {}
    form_key: int = 0

    def _read(self, customer_id: int, current: Actor) -> None:
        self.people = customer_users.company_users(customer_id, actor=current)

    def _toggle(self) -> None:
        require_offered(self.can_manage, "CompanyUsers.toggle")
        self.inviting, self.form_key, self.field_errors = not self.inviting, self.form_key + 1, {}

    def _invite(self, customer_id: int, current: Actor, form: dict) -> None:
        require_offered(self.can_manage and self.inviting, "CompanyUsers.invite")
        offered = {line["id"] for line in self.line_choices}
        line_ids = [int_param(key[5:]) for key, value in form.items()
                    if key.startswith("line_") and value and int_param(key[5:]) in offered]
        invitation, _ = customer_users.invite_user(
            customer_id, actor=current, email=(form.get("email") or "").strip(), name=(form.get("name") or "").strip(),
            role=form.get("role") or "user", line_ids=line_ids)
        self.notice = f"{invitation.email} に招待メールを送りました（72時間有効）。"
        self.inviting = False
        self._read(customer_id, current)

    def _remove(self, customer_id: int, current: Actor, user_id: Any, reason: str) -> None:
        wanted = int_param(user_id)
        offered = any(p["kind"] == "user" and p["id"] == wanted and p["is_active"] and not p.get("is_me")
                      for p in self.people)
        require_offered(self.can_manage and offered, "CompanyUsers.remove")
        customer_users.remove_user(wanted, actor=current, reason=reason)
        self.notice = "ログインできないようにしました（ログイン中の端末もすべてログアウトされます）。"
        self._read(customer_id, current)

    def _toggle_bills(self, customer_id: int, current: Actor, user_id: Any) -> None:
        wanted = int_param(user_id)
        person = next((p for p in self.people if p["kind"] == "user" and p["id"] == wanted and p["is_active"]
                       and not p["all_lines"]), None)
        require_offered(self.can_manage and person is not None, "CompanyUsers.toggle_bills")
        customer_users.set_rights(wanted, actor=current, can_view_bills=not person["can_view_bills"],
                                  can_request=person["can_request"])
        self._read(customer_id, current)
