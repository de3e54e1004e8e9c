"""One contract: its lifecycle events and adding a line."""

from __future__ import annotations

import reflex as rx

from services.ledger import contracts, lines
from services.ledger.contracts import CONTRACT
from services.platform.permissions import can
from services.read.staff import views
from services.workflow import approvals
from state.admin.actions import LifecycleActionsMixin
from state.feedback import int_param, require_offered
from state.session import STAFF, actor, guarded
from telecom_app import routes


class ContractState(LifecycleActionsMixin, rx.State):
    """One contract with its lines; its lifecycle events; adding a line with SIM and device checks."""

    can_add_line: bool = False

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the contract in the URL."""
        self._open(int_param(self.router._page.params.get("contract_id")))

    def _lifecycle(self) -> str:
        return "contract"

    def _preview(self, event: str) -> dict | None:
        return contracts.preview_contract_event(self._record_id(), event, actor=actor())

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        return contracts.request_contract_event(self._record_id(), event, actor=actor(), reason=form.get("reason") or "",
                                                confirm_word=form.get("confirm_word"),
                                                confirm_repeat=bool(form.get("confirm_repeat")))

    def _title(self) -> str:
        return f"契約 {self.data['contract']['code']}（{self.data['customer']['name']}）"

    def _refresh(self, contract_id: int) -> None:
        self.data = views.contract_detail(contract_id, actor=actor())
        status = self.data["contract"]["status"]
        self.can_add_line = can(actor(), "line.create") and status != "terminated"
        self.actions = self._allowed_actions(CONTRACT, status, lambda _ev: "contract.transition")

    @rx.event
    @guarded(STAFF)
    def add_line(self, form: dict):
        """Open a new line on this contract (number, ICCID, optional IMEI)."""
        require_offered(self.can_add_line, "ContractState.add_line")
        contract_id = self.data["contract"]["id"]
        line = lines.add_line(actor=actor(), contract_id=contract_id, msisdn=form.get("msisdn") or "",
                              iccid=form.get("iccid") or "", imei=form.get("imei") or None,
                              reason=form.get("reason") or None)
        return rx.redirect(routes.admin_line(line.id))
