"""Bank business days: weekends, national holidays (jpholiday) and the banks' New Year closure.

Expected dates are written by hand from the 2026/2027 calendar."""

from __future__ import annotations

from datetime import date

import pytest

from services.platform.business_days import is_bank_business_day, next_bank_business_day


@pytest.mark.parametrize("day", [date(2026, 4, 30), date(2026, 5, 7), date(2026, 9, 24), date(2026, 12, 30),
                                 date(2027, 1, 4)])
def test_an_ordinary_weekday_is_a_business_day_and_its_own_next_one(day):
    assert is_bank_business_day(day)
    assert next_bank_business_day(day) == day


@pytest.mark.parametrize("day", [
    date(2026, 5, 3), date(2026, 5, 4), date(2026, 5, 5),  # 憲法記念日 (Sun), みどりの日, こどもの日
    date(2026, 5, 6),  # 振替休日 for 5/3
    date(2026, 9, 21), date(2026, 9, 22), date(2026, 9, 23),  # 敬老の日, 国民の休日, 秋分の日
    date(2027, 3, 22),  # 振替休日 for 春分の日 on Sunday 3/21
])
def test_national_holidays_and_substitute_holidays_are_closed(day):
    assert not is_bank_business_day(day)


@pytest.mark.parametrize("day", [date(2026, 12, 31), date(2027, 1, 1), date(2026, 1, 2), date(2027, 1, 3)])
def test_the_new_year_closure_is_closed_even_on_weekdays(day):
    assert not is_bank_business_day(day)


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 5, 2), date(2026, 5, 7)),  # Saturday, then Golden Week to the 振替休日 on Wednesday 5/6
    (date(2026, 9, 19), date(2026, 9, 24)),  # Saturday, then the 2026 Silver Week 9/21-9/23
    (date(2026, 12, 31), date(2027, 1, 4)),  # 12/31, 1/1 (Fri) and the weekend 1/2-1/3
    (date(2026, 1, 2), date(2026, 1, 5)),  # Friday 1/2 is a bank holiday only, then a weekend
    (date(2026, 6, 7), date(2026, 6, 8)),  # Sunday -> Monday
    (date(2027, 3, 21), date(2027, 3, 23)),  # 春分の日 on Sunday, 振替休日 on Monday
])
def test_the_next_business_day_skips_every_closed_day(day, expected):
    assert next_bank_business_day(day) == expected
