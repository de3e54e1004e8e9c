"""One contract: its lifecycle events and adding a line."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import plan_changes
from services.ledger import contracts, lines
from services.ledger.contracts import CONTRACT
from services.platform.permissions import can
from services.read.staff import views
from services.workflow import approvals
from state.admin.actions import LifecycleActionsMixin
from state.feedback import MessagesMixin, int_param, require_offered
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


class ContractPlanState(MessagesMixin, rx.State):
    """The contract's plan timeline and options, and changing them (from next month, or at once with 日割り):
    the preview states the date and the price difference before the change is confirmed."""

    data: dict[str, Any] = {"timeline": [], "options": [], "plan_choices": [], "option_choices": [],
                            "changeable": False}
    dialog: str = ""            # "plan" | "add_option" | "remove_option" | ""
    preview: list[str] = []
    choice: str = ""
    when: str = "next_month"
    removing: int = 0

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the plan timeline of the contract in the URL."""
        self.dialog, self.preview = "", []
        self.data = plan_changes.contract_plan_view(self._contract_id(), actor=actor())

    def _contract_id(self) -> int:
        return int_param(self.router._page.params.get("contract_id"))

    @rx.event
    @guarded(STAFF)
    def open(self, dialog: str):
        """Open the plan change or the add-option dialog."""
        require_offered(self.data.get("changeable", False) and dialog in ("plan", "add_option"),
                        f"ContractPlanState.open({dialog!r})")
        self.dialog, self.preview, self.choice, self.when = dialog, [], "", "next_month"

    @rx.event
    @guarded(STAFF)
    def ask_remove(self, contract_option_id: int):
        """Open the dialog that removes one option."""
        offered = any(o["id"] == contract_option_id and o["removable"] for o in self.data.get("options", []))
        require_offered(self.data.get("changeable", False) and offered, "ContractPlanState.ask_remove")
        self.dialog, self.removing, self.when = "remove_option", contract_option_id, "next_month"

    @rx.event
    @guarded(STAFF)
    def check(self, form: dict):
        """Show what the plan change would do (date, fees, difference, this month's 日割り)."""
        require_offered(self.dialog == "plan", "ContractPlanState.check")
        self.choice, self.when = form.get("plan_id") or "", form.get("when") or "next_month"
        if not self.choice.isdigit():
            self.field_errors = {"plan_id": "変更先のプランを選んでください。"}
            return
        self.preview = plan_changes.preview_plan_change(self._contract_id(), int(self.choice), self.when,
                                                        actor=actor())["lines"]

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close the dialog without changing anything."""
        self.dialog, self.preview = "", []

    @rx.event
    @guarded(STAFF)
    def confirm(self, form: dict):
        """Carry out the change in the open dialog with its reason."""
        require_offered(self.dialog in ("plan", "add_option", "remove_option"), "ContractPlanState.confirm")
        reason, when = form.get("reason") or "", form.get("when") or self.when
        if self.dialog == "plan":
            require_offered(bool(self.preview), "ContractPlanState.confirm(plan without preview)")
            span = plan_changes.change_plan(self._contract_id(), actor=actor(), plan_id=int(self.choice), when=self.when,
                                            reason=reason)
            self.notice = f"プランを変更しました（{span.valid_from:%Y/%m/%d} から）。"
        elif self.dialog == "add_option":
            option = int_param(form.get("option_id"))
            if not option:
                self.field_errors = {"option_id": "オプションを選んでください。"}
                return
            row = plan_changes.add_option(self._contract_id(), actor=actor(), option_id=option, when=when, reason=reason)
            self.notice = f"オプションを追加しました（{row.valid_from:%Y/%m/%d} から）。"
        else:
            plan_changes.remove_option(self.removing, actor=actor(), when=when, reason=reason)
            self.notice = "オプションを外しました。"
        self.dialog, self.preview = "", []
        self.data = plan_changes.contract_plan_view(self._contract_id(), actor=actor())
