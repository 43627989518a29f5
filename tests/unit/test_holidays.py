"""England and Wales bank holidays, computed, against the published dates."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core import digests
from bot.core.holidays import bank_holidays, easter_sunday, first_working_day, is_working_day

PUBLISHED = {
    2026: [
        date(2026, 1, 1),
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 4),
        date(2026, 5, 25),
        date(2026, 8, 31),
        date(2026, 12, 25),
        date(2026, 12, 28),  # Boxing Day falls on a Saturday: Monday instead
    ],
    2027: [
        date(2027, 1, 1),
        date(2027, 3, 26),
        date(2027, 3, 29),
        date(2027, 5, 3),
        date(2027, 5, 31),
        date(2027, 8, 30),
        date(2027, 12, 27),  # Christmas Day on a Saturday
        date(2027, 12, 28),  # Boxing Day on a Sunday
    ],
    2021: [
        date(2021, 1, 1),
        date(2021, 4, 2),
        date(2021, 4, 5),
        date(2021, 5, 3),
        date(2021, 5, 31),
        date(2021, 8, 30),
        date(2021, 12, 27),
        date(2021, 12, 28),
    ],
}


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_the_computed_bank_holidays_are_the_published_ones(year: int) -> None:
    assert sorted(bank_holidays(year)) == PUBLISHED[year]


def test_new_year_on_a_weekend_moves_to_monday_and_christmas_on_sunday_to_tuesday() -> None:
    assert date(2022, 1, 3) in bank_holidays(2022)
    assert {date(2022, 12, 26), date(2022, 12, 27)} <= bank_holidays(2022)
    assert date(2028, 1, 3) in bank_holidays(2028)  # 1 January 2028 is a Saturday
    assert first_working_day(date(2028, 1, 1)) == date(2028, 1, 4)


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2038, date(2038, 4, 25))],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 1, 1), date(2027, 1, 4)),  # New Year's Day, a Friday, then the weekend
        (date(2026, 4, 3), date(2026, 4, 7)),  # Good Friday to Easter Monday
        (date(2026, 12, 25), date(2026, 12, 29)),
        (date(2027, 12, 25), date(2027, 12, 29)),
        (date(2026, 6, 1), date(2026, 6, 1)),
    ],
)
def test_the_first_working_day_skips_weekends_and_bank_holidays(day: date, working: date) -> None:
    assert first_working_day(day) == working
    assert digests.first_working_day(day) == working


def test_an_organisation_s_own_closure_days_are_skipped_too() -> None:
    closed = [date(2026, 12, 29), date(2026, 12, 30)]
    assert first_working_day(date(2026, 12, 25), closed) == date(2026, 12, 31)
    assert not is_working_day(date(2026, 12, 29), closed)
    assert is_working_day(date(2026, 12, 29))
