"""Business time: dates are Tokyo dates, instants are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def today_in_tokyo() -> date:
    """Today's date in Asia/Tokyo (the business date of issue and due dates)."""
    return datetime.now(TOKYO).date()


def tokyo_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Tokyo calendar day starts and where the next one starts."""
    start = datetime.combine(day, time.min, tzinfo=TOKYO)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def parse_utc(value: Any) -> datetime | None:
    """A provider's ISO 8601 time in UTC (a naive one is taken as UTC); None when absent or unreadable."""
    try:
        parsed = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
