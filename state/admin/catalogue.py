"""料金表: plans, options and rate tables with their prices by date; new versions from a date on."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.ledger import catalogue
from services.platform.permissions import can
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import STAFF, actor, guarded


def _values(form: dict) -> dict[str, Any]:
    """A catalogue form's fields as the service takes them (税込表示 is a checkbox)."""
    out = {k: v for k, v in form.items() if k not in ("reason", "target", "price_includes_tax")}
    out["price_includes_tax"] = bool(form.get("price_includes_tax"))
    return out


class CatalogueState(MessagesMixin, rx.State):
    """The catalogue screen and its forms (admin and accounting change it; everyone reads it)."""

    data: dict[str, Any] = {"plans": [], "options": [], "charges": []}
    can_manage: bool = False
    editing: str = ""       # "plan:<id>" | "option:<id>" | "new_plan" | "new_option" | "charge" | ""
    editing_label: str = ""
    form_key: int = 0

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the catalogue."""
        self.editing = ""
        self.can_manage = can(actor(), "catalog.manage")
        self.data = catalogue.catalogue(actor=actor())

    @rx.event
    @guarded(STAFF)
    def open_form(self, target: str, label: str):
        """Open a form: a new version of a plan or option, a new plan or option, or a rate-table row."""
        require_offered(self.can_manage and self._offered(target), f"CatalogueState.open_form({target!r})")
        self.editing, self.editing_label = target, label
        self.form_key += 1

    def _offered(self, target: str) -> bool:
        kind, _, ident = target.partition(":")
        if target in ("new_plan", "new_option", "charge"):
            return True
        rows = self.data.get("plans" if kind == "plan" else "options" if kind == "option" else "", [])
        return any(str(r["id"]) == ident for r in rows)

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close the form without changing anything."""
        self.editing = ""

    @rx.event
    @guarded(STAFF)
    def submit(self, form: dict):
        """Save the open form (a version from its date, a new plan or option, or a rate-table row)."""
        target = self.editing
        require_offered(bool(target) and self.can_manage, "CatalogueState.submit")
        kind, _, ident = target.partition(":")
        values, reason = _values(form), (form.get("reason") or "").strip()
        current = actor()
        if kind == "plan":
            catalogue.add_plan_version(int_param(ident), actor=current, values=values, reason=reason)
        elif kind == "option":
            catalogue.add_option_version(int_param(ident), actor=current, values=values, reason=reason)
        elif target == "new_plan":
            catalogue.create_plan(actor=current, values=values, reason=reason or None)
        elif target == "new_option":
            catalogue.create_option(actor=current, values=values, reason=reason or None)
        else:
            catalogue.set_charge_rate(actor=current, values=values, reason=reason)
        self.notice = f"{self.editing_label}を保存しました。"
        self.editing = ""
        self.data = catalogue.catalogue(actor=current)
