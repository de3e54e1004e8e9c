"""Builders for the customer app's contract tests: add-on data on sale, a month's data use, a throttled line."""

from __future__ import annotations

from datetime import date

from services.ledger import catalogue
from services.models import Line, UsageRecord
from services.platform.clock import today_in_tokyo
from services.platform.db import write_session


def addon_on_sale(world, amount: int = 500, code: str = "addon_data_1gb", name: str = "追加データ 1GB") -> None:
    """Put an add-on data size on sale in the rate table from today (tax excluded, 10%, shown with tax)."""
    catalogue.set_charge_rate(actor=world.admin, reason="追加データの販売開始", values={
        "code": code, "name": name, "kind": "one_off", "amount": amount,
        "effective_from": today_in_tokyo().isoformat()})


def used(line_id: int, day: date, mb: int) -> None:
    """The carrier's daily figure for one line and day."""
    with write_session() as session:
        session.add(UsageRecord(line_id=line_id, day=day, used_mb=mb))


def throttled(line_id: int) -> None:
    """The line as the carrier confirmed its speed limit (速度制限中)."""
    with write_session() as session:
        line = session.get(Line, line_id)
        line.throttled = True
        session.add(line)
