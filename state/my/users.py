"""A 法人管理者's people: invite colleagues, choose the lines a 利用者 sees and whether they see bills, remove."""

from __future__ import annotations

import reflex as rx

from services.ledger import customer_users
from state.company_users import CompanyUsersMixin
from state.session import CUSTOMER, actor, guarded


class MyUsersState(CompanyUsersMixin, rx.State):
    """The company's people, for its 法人管理者 (a 利用者 is told the page is not theirs)."""

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the company's people and lines (a 利用者 gets the service's refusal as a message)."""
        current = actor()
        self.people, self.line_choices, self.inviting, self.can_manage = [], [], False, False
        self._read(current.customer_id, current)
        self.line_choices = customer_users.company_lines(current.customer_id, actor=current)
        self.can_manage = True

    @rx.event
    @guarded(CUSTOMER)
    def toggle(self):
        """Show or hide the invite form."""
        self._toggle()

    @rx.event
    @guarded(CUSTOMER)
    def invite(self, form: dict):
        """Mail an invitation to a colleague."""
        current = actor()
        self._invite(current.customer_id, current, form)

    @rx.event
    @guarded(CUSTOMER)
    def remove(self, user_id: int):
        """Stop a colleague signing in."""
        current = actor()
        self._remove(current.customer_id, current, user_id, "法人管理者が停止")

    @rx.event
    @guarded(CUSTOMER)
    def toggle_bills(self, user_id: int):
        """Allow or stop a 利用者 seeing the company's bills."""
        current = actor()
        self._toggle_bills(current.customer_id, current, user_id)
