"""The customer's contracts: the list, and one contract with its plan, options and history, where a plan or an
option is changed from next month or from today — the date and the price difference are shown before the
person confirms (the staff's own preview and change services)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import plan_changes
from services.read.customer import contract
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import CUSTOMER, actor, guarded

REASON = "お客様サイトからのお申し込み"
PANELS = ("plan", "add_option", "remove_option")


class MyContractsState(MessagesMixin, rx.State):
    """The contracts the signed-in person sees."""

    contracts: list[dict[str, Any]] = []

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the company's contracts (a 利用者 only those holding a line of theirs)."""
        self.contracts = []
        self.contracts = contract.my_contracts(actor=actor())


class MyContractState(MessagesMixin, rx.State):
    """One contract and the change the person is making (panel → preview → confirm)."""

    contract: dict[str, Any] = {}
    plan: dict[str, Any] = {}
    lines: list[str] = []
    timeline: list[dict[str, Any]] = []
    options: list[dict[str, Any]] = []
    plan_choices: list[dict[str, Any]] = []
    option_choices: list[dict[str, Any]] = []
    can_change: bool = False
    panel: str = ""          # "plan" | "add_option" | "remove_option" | ""
    choice: str = ""         # the plan or option chosen (its id) in the open panel
    when: str = "next_month"
    removing: int = 0        # the contract option being removed
    removing_name: str = ""
    preview: list[str] = []

    def _contract_id(self) -> int:
        return int_param(self.router._page.params.get("contract_id"))

    def _read(self) -> None:
        data = contract.my_contract(self._contract_id(), actor=actor())
        self.plan, self.lines, self.timeline = data.pop("plan"), data.pop("lines"), data.pop("timeline")
        self.options, self.plan_choices = data.pop("options"), data.pop("plan_choices")
        self.option_choices, self.can_change = data.pop("option_choices"), bool(data["can_change"])
        self.contract = data

    def _close(self) -> None:
        self.panel, self.choice, self.when, self.removing, self.removing_name, self.preview = (
            "", "", "next_month", 0, "", [])

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the contract in the URL (another company's or an unknown id: 見つかりません)."""
        self.contract, self.plan, self.lines, self.timeline, self.options = {}, {}, [], [], []
        self.plan_choices, self.option_choices, self.can_change, self.notice = [], [], False, ""
        self._close()
        self._read()

    @rx.event
    @guarded(CUSTOMER)
    def open(self, panel: str):
        """Open the plan change or the add-option panel."""
        require_offered(self.can_change and panel in ("plan", "add_option"), f"MyContractState.open({panel!r})")
        self._close()
        self.panel, self.notice = panel, ""

    @rx.event
    @guarded(CUSTOMER)
    def ask_remove(self, contract_option_id: int):
        """Open the panel that removes one option."""
        row = next((o for o in self.options if o["id"] == contract_option_id and o["removable"]), None)
        require_offered(self.can_change and row is not None, "MyContractState.ask_remove")
        self._close()
        self.panel, self.removing, self.removing_name = "remove_option", contract_option_id, row["name"]
        self.notice = ""

    @rx.event
    @guarded(CUSTOMER)
    def edited(self, value: str = ""):
        """A choice changed after the preview: the preview no longer says what would happen."""
        self.preview = []

    @rx.event
    @guarded(CUSTOMER)
    def check(self, form: dict):
        """Show what the change would do — from when, the monthly fees, the difference, this month's 日割り —
        before anything is changed."""
        require_offered(self.panel in PANELS, "MyContractState.check")
        self.preview = []
        when = str(form.get("when") or "next_month")
        if self.panel == "remove_option":
            result = plan_changes.preview_option_change(self._contract_id(), actor=actor(), when=when,
                                                        contract_option_id=self.removing)
        else:
            choice = str(form.get("choice") or "")
            offered = self.plan_choices if self.panel == "plan" else self.option_choices
            if not any(str(c["id"]) == choice for c in offered):
                self.field_errors = {"choice": "選んでください。"}
                return
            self.choice = choice
            result = plan_changes.preview_plan_change(self._contract_id(), int(choice), when, actor=actor()) \
                if self.panel == "plan" else plan_changes.preview_option_change(
                    self._contract_id(), actor=actor(), when=when, option_id=int(choice))
        self.when, self.preview = when, result["lines"]

    @rx.event
    @guarded(CUSTOMER)
    def cancel(self):
        """Close the panel without changing anything."""
        self._close()

    @rx.event
    @guarded(CUSTOMER)
    def confirm(self):
        """Make the change the preview showed."""
        require_offered(self.panel in PANELS and bool(self.preview), "MyContractState.confirm")
        if self.panel == "plan":
            span = plan_changes.change_plan(self._contract_id(), actor=actor(), plan_id=int(self.choice),
                                            when=self.when, reason=REASON)
            notice = f"プランの変更を受け付けました（{span.valid_from:%Y年%m月%d日}から）。"
        elif self.panel == "add_option":
            row = plan_changes.add_option(self._contract_id(), actor=actor(), option_id=int(self.choice),
                                          when=self.when, reason=REASON)
            notice = f"オプションを追加しました（{row.valid_from:%Y年%m月%d日}から）。"
        else:
            plan_changes.remove_option(self.removing, actor=actor(), when=self.when, reason=REASON)
            notice = "オプションを外しました。" if self.when == "now" else "オプションは今月末で外れます。"
        self._close()
        self._read()
        self.notice = notice
