"""A frozen, movable clock for the money tests: every Tokyo date (today_in_tokyo) and every stored instant
(utcnow, including the models' default timestamps) comes from it.

Only two module globals are replaced — `datetime` in services.platform.clock and in services.models.base —
so every service that asks for today or now, however it imported the function, sees the frozen time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from services.models import base
from services.platform import clock
from services.platform.clock import TOKYO


class FrozenTime:
    """The instant the services see; a test moves it with `at` (an instant) or `day` (a Tokyo date)."""

    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        frozen = self

        class FrozenDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                return frozen.now.astimezone(tz) if tz is not None else frozen.now.astimezone(UTC).replace(tzinfo=None)

        monkeypatch.setattr(clock, "datetime", FrozenDatetime)
        monkeypatch.setattr(base, "datetime", FrozenDatetime)

    def at(self, moment: datetime) -> datetime:
        """Move to an instant (timezone-aware)."""
        assert moment.tzinfo is not None
        self.now = moment
        return moment

    def day(self, day: date, hour: int = 10, minute: int = 0) -> datetime:
        """Move to `hour`:`minute` in Tokyo on `day`."""
        return self.at(datetime.combine(day, time(hour, minute), tzinfo=TOKYO))


def freeze(monkeypatch, day: date = date(2026, 3, 1), hour: int = 10) -> FrozenTime:
    """Freeze the services' clock at `hour` o'clock in Tokyo on `day`."""
    return FrozenTime(monkeypatch, datetime.combine(day, time(hour), tzinfo=TOKYO))
