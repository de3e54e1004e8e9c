"""Bank business days (銀行営業日): the days a Japanese bank moves money, e.g. a 口座振替 withdrawal date.

Banks are closed on Saturdays and Sundays, on national holidays (国民の祝日, 振替休日 and 国民の休日,
from the maintained `jpholiday` calendar) and over the New Year (12/31 to 1/3).
"""

from __future__ import annotations

from datetime import date, timedelta

import jpholiday

NEW_YEAR_CLOSURE = frozenset({(12, 31), (1, 1), (1, 2), (1, 3)})  # (month, day) banks close


def is_bank_business_day(day: date) -> bool:
    """Whether banks are open on `day`: a weekday, not a national holiday, not 12/31 to 1/3."""
    return day.weekday() < 5 and (day.month, day.day) not in NEW_YEAR_CLOSURE and not jpholiday.is_holiday(day)


def next_bank_business_day(day: date) -> date:
    """`day` itself when banks are open on it, else the first bank business day after it (翌営業日)."""
    while not is_bank_business_day(day):
        day += timedelta(days=1)
    return day
