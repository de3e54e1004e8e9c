"""Add-on data (追加データ): data bought for one line for the rest of this month, on top of its plan's cap.

What is on sale is the rate table (料金表, ChargeRate): each one-off row whose code says its size —
addon_data_<n>gb or addon_data_<n>mb (追加データ 1GB is addon_data_1gb) — at the amount in effect that day.
A purchase is a PendingCharge of that code for the line (services.billing.addons), billed once by the next
billing run; its data counts for the Tokyo month it was bought in (its occurred_on), so the cap the speed limit
follows (services.ledger.usage_caps) is the plan's cap plus the month's add-ons.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from services.ledger.catalogue import shown_price
from services.models import ChargeRate, PendingCharge

ADDON_PREFIX = "addon_data_"
MB_PER_GB = 1024  # the plans' caps count 1 GB as 1,024 MB (ライト 3GB = 3,072 MB)
_SIZE = re.compile(r"^addon_data_(\d+)(gb|mb)$")
NEARLY_FULL_PERCENT = 80  # from here on the home page offers add-on data


def addon_mb(code: str | None) -> int:
    """The megabytes an add-on code adds (0 for a code that is not add-on data)."""
    match = _SIZE.match(code or "")
    if match is None:
        return 0
    size = int(match.group(1))
    return size * MB_PER_GB if match.group(2) == "gb" else size


def addons_on_sale(session: Session, day: date) -> list[dict[str, Any]]:
    """The add-on data sizes on sale on `day`, smallest first: code, name, mb, amount (tax excluded), tax rate,
    and the price as the rate table says to show it (税込 or 税抜)."""
    latest: dict[str, ChargeRate] = {}
    for rate in session.exec(select(ChargeRate).where(col(ChargeRate.code).startswith(ADDON_PREFIX),
                                                      ChargeRate.kind == "one_off", ChargeRate.effective_from <= day)
                             .order_by(ChargeRate.effective_from)):
        if addon_mb(rate.code):
            latest[rate.code] = rate
    return sorted(({"code": r.code, "name": r.name, "mb": addon_mb(r.code), "amount": r.amount,
                    "tax_rate_percent": r.tax_rate_percent,
                    "price": shown_price(r.amount, r.tax_rate_percent, r.price_includes_tax)}
                   for r in latest.values()), key=lambda a: (a["mb"], a["code"]))


def extra_mb(session: Session, first: date, last: date, line_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Per line, the add-on megabytes bought between `first` and `last` (a Tokyo month), for the given lines or
    (None) every line; lines without any are left out."""
    query = select(PendingCharge.line_id, PendingCharge.code, PendingCharge.quantity).where(
        col(PendingCharge.code).startswith(ADDON_PREFIX), col(PendingCharge.line_id).is_not(None),
        PendingCharge.occurred_on >= first, PendingCharge.occurred_on <= last)
    if line_ids is not None:
        query = query.where(col(PendingCharge.line_id).in_(sorted(set(line_ids))))
    out: dict[int, int] = defaultdict(int)
    for line_id, code, quantity in session.exec(query):
        out[line_id] += addon_mb(code) * quantity
    return dict(out)
