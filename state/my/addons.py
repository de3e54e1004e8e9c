"""Add-on data (追加データ) from a line card of the home page: choose a size from the rate table with its price,
read what it does (this month's cap after it, whether the speed limit is lifted, that it is on next month's
bill), confirm. The confirmation carries one key, so a double tap buys once."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from services.billing import addons
from services.read.customer import contract
from state.feedback import MessagesMixin, require_offered
from state.my.home import MyHomeState
from state.session import CUSTOMER, actor, guarded


class MyAddonState(MessagesMixin, rx.State):
    """The add-on confirmation of one line."""

    offer: dict[str, Any] = {}
    addons: list[dict[str, Any]] = []
    chosen: str = ""
    confirming: bool = False
    _line_id: int = 0
    _request_key: str = ""

    @rx.event
    @guarded(CUSTOMER)
    def ask(self, line_id: int):
        """Open the confirmation for a line: the sizes on sale with their prices and what each would do."""
        self.offer, self.addons, self.chosen, self.confirming, self.notice = {}, [], "", False, ""
        offer = contract.addon_offer(line_id, actor=actor())
        self.addons = offer.pop("addons")
        self.offer = offer
        self.chosen = self.addons[0]["code"] if self.addons else ""
        self._line_id, self._request_key = offer["line_id"], uuid.uuid4().hex  # one purchase, one key
        self.confirming = True

    @rx.event
    @guarded(CUSTOMER)
    def choose(self, code: str):
        """Pick another size (a new purchase: a new key)."""
        require_offered(self.confirming and any(a["code"] == code for a in self.addons), "MyAddonState.choose")
        if code != self.chosen:
            self.chosen, self._request_key = code, uuid.uuid4().hex

    @rx.event
    @guarded(CUSTOMER)
    def cancel(self):
        """Close without buying."""
        self.confirming = False

    @rx.event
    @guarded(CUSTOMER)
    def confirm(self):
        """Buy the chosen size (a second tap with the same key returns the first purchase)."""
        require_offered(bool(self._request_key) and any(a["code"] == self.chosen for a in self.addons),
                        "MyAddonState.confirm")
        chosen = next(a for a in self.addons if a["code"] == self.chosen)
        addons.buy_addon_data(self._line_id, actor=actor(), code=self.chosen, request_key=self._request_key)
        self.confirming = False
        self.notice = (f"{chosen['name']}を追加しました。代金は来月お届けする請求書に載ります。"
                       + ("速度制限の解除を手配しました（反映まで少しお待ちください）。" if chosen["lifts_throttle"] else ""))
        return MyHomeState.load
