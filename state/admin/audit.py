"""The audit log screen (監査ログ): filters, a server-paged list, CSV export and the chain verifier."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.platform.permissions import can
from services.security import audit_log
from state.admin.paging import PagedListMixin
from state.feedback import require_offered
from state.session import STAFF, actor, guarded

_FILTER_FIELDS = ("actor_label", "entity_type", "entity_id", "action", "since", "until", "up_to_id")


class AuditState(PagedListMixin, rx.State):
    """Who changed what, when and why: the filtered list, its export, and the tamper check."""

    filters: dict[str, str] = {name: "" for name in _FILTER_FIELDS}
    form_key: int = 0
    entity_types: list[dict[str, str]] = []
    actions: list[dict[str, str]] = []
    can_verify: bool = False
    can_export: bool = False
    verified: bool = False
    verify_intact: bool = False
    verify_message: str = ""
    verify_broken_id: int = 0
    revealing: dict[str, Any] = {}   # the sealed value whose reveal dialog is open: entry id, field, label
    revealed: dict[str, str] = {}    # "entry id:field" -> the before-value, until the page is left

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Open the log with the filters named in the URL (?entity_type=&entity_id=&up_to_id=…).

        A verifier report stays on screen when its own link (?up_to_id=<first broken entry>) was followed.
        """
        current = actor()
        params = self.router.url.query_parameters
        self.revealing, self.revealed = {}, {}  # a revealed before-value lasts until the page is left
        self.can_verify, self.can_export = can(current, "audit.verify"), can(current, "audit.export")
        choices = audit_log.audit_filter_choices(actor=current)
        self.entity_types, self.actions = choices["entity_types"], choices["actions"]
        if not (self.verified and self.verify_broken_id and params.get("up_to_id") == str(self.verify_broken_id)):
            self.verified, self.verify_intact, self.verify_message, self.verify_broken_id = False, False, "", 0
        self._show({name: params.get(name, "") for name in _FILTER_FIELDS})

    @rx.event
    @guarded(STAFF)
    def apply_filters(self, form: dict):
        """Show the entries matching the filter form (担当者, 対象種別, 対象ID, 操作, 期間)."""
        self._show({name: str(form.get(name) or "") for name in _FILTER_FIELDS})

    @rx.event
    @guarded(STAFF)
    def clear_filters(self):
        """Show the whole log again."""
        self._show({})

    @rx.event
    @guarded(STAFF)
    def export_csv(self):
        """Download the filtered entries as CSV (masked for the signed-in role)."""
        data = audit_log.export_audit_csv(actor=actor(), **audit_log.read_filter_form(self.filters))
        return rx.download(data=data, filename="audit.csv", mime_type="text/csv;charset=utf-8")

    @rx.event
    @guarded(STAFF)
    def verify(self):
        """Re-compute the hash chain and show "intact" or the first broken entry."""
        report = audit_log.verify_chain(actor=actor())
        self.verified, self.verify_intact = True, report.intact
        self.verify_message, self.verify_broken_id = report.message_ja, report.first_broken_id or 0

    @rx.event
    @guarded(STAFF)
    def ask_reveal(self, entry_id: int, field: str):
        """Open the dialog asking why a sealed before-value must be shown (auditors, entries on the page)."""
        row = next((r for r in self.rows if r["id"] == entry_id and r["can_reveal_sealed"]), None)
        sealed = next((f for f in (row or {}).get("sealed", []) if f["field"] == field), None)
        require_offered(sealed is not None, f"AuditState.ask_reveal({entry_id!r}, {field!r})")
        self.revealing = {"entry_id": entry_id, "field": field, "label": f"監査ログ #{entry_id}: 変更前の{sealed['label']}"}

    @rx.event
    @guarded(STAFF)
    def cancel_reveal(self):
        """Close the reveal dialog without showing anything."""
        self.revealing = {}

    @rx.event
    @guarded(STAFF)
    def confirm_reveal(self, form: dict):
        """Show the sealed before-value (the service checks the role and audits the reason)."""
        require_offered(bool(self.revealing), "AuditState.confirm_reveal without an open dialog")
        entry_id, field = int(self.revealing["entry_id"]), str(self.revealing["field"])
        value = audit_log.reveal_sealed_value(entry_id, field, actor=actor(), reason=form.get("reason") or "")
        self.revealed = {**self.revealed, f"{entry_id}:{field}": value}
        self.revealing = {}

    def _show(self, values: dict[str, str]) -> None:
        """Check the filters (field errors stop here, keeping the previous ones), then show page 1."""
        filters = {name: str(values.get(name) or "").strip() for name in _FILTER_FIELDS}
        audit_log.read_filter_form(filters)
        self.filters = filters
        self.form_key += 1  # re-mounts the filter form so its fields show these values
        self._fetch(1)

    def _fetch(self, page: int) -> None:
        result = audit_log.list_audit_entries(actor=actor(), page=page, **audit_log.read_filter_form(self.filters))
        self._show_page(result)
