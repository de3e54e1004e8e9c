"""One shipment's tracking page (配送状況): a SIM or device on its way to the customer."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read.customer import shipments
from state.feedback import MessagesMixin, int_param
from state.session import CUSTOMER, actor, guarded


class MyShipmentState(MessagesMixin, rx.State):
    """The shipment in the URL and its timeline."""

    shipment: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the shipment in the URL (another company's or an unknown id: 見つかりません)."""
        self.shipment, self.steps = {}, []
        found = shipments.my_shipment(int_param(self.router._page.params.get("shipment_id")), actor=actor())
        self.steps = found.pop("steps")
        self.shipment = found
