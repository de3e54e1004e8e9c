"""The customer's bills: the list, and one bill with its items, tax per rate and what is left to pay."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read.customer import bills
from state.feedback import MessagesMixin, int_param
from state.session import CUSTOMER, actor, guarded


class MyBillsState(MessagesMixin, rx.State):
    """The bills list (issued invoices and credit notes)."""

    bills: list[dict[str, Any]] = []

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the bills the signed-in person may see."""
        self.bills = bills.my_bills(actor=actor())


class MyBillState(MessagesMixin, rx.State):
    """One bill."""

    bill: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    taxes: list[dict[str, Any]] = []

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the bill in the URL (another company's or an unknown id: 見つかりません)."""
        self.bill, self.items, self.taxes = {}, [], []
        bill = bills.my_bill(int_param(self.router._page.params.get("invoice_id")), actor=actor())
        self.items, self.taxes = bill.pop("items"), bill.pop("taxes")
        self.bill = bill
