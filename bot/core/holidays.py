"""Bank holidays in England and Wales, computed (no calendar file to keep up
to date), for finding the first working day a digest goes out on.

The rules: New Year's Day, Good Friday, Easter Monday, the first and last
Mondays of May, the last Monday of August, Christmas Day and Boxing Day. A
fixed holiday that falls on a weekend moves to the next weekday not already a
holiday ("substitute day"): Christmas on a Saturday makes Monday 27 and
Tuesday 28 the holidays. One-off holidays proclaimed for a single year (a
coronation, a jubilee, a state funeral) cannot be computed: an organisation
lists them, with its own closure days, in `[digests] extra_holidays`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from functools import cache


def easter_sunday(year: int) -> date:
    """Western Easter (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    day = date(year, month, 1)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    after = date(year + month // 12, month % 12 + 1, 1)
    last = after - timedelta(days=1)
    return last - timedelta(days=last.weekday())


@cache
def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays in `year`, substitute days included."""
    easter = easter_sunday(year)
    taken = {
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        _first_monday(year, 5),
        _last_monday(year, 5),
        _last_monday(year, 8),
    }
    for fixed in (date(year, 1, 1), date(year, 12, 25), date(year, 12, 26)):
        day = fixed
        while day.weekday() >= 5 or day in taken:
            day += timedelta(days=1)
        taken.add(day)
    return frozenset(taken)


def is_working_day(day: date, extra: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year) and day not in extra


def first_working_day(day: date, extra: Collection[date] = ()) -> date:
    """`day` itself if it is a working day, else the next one."""
    while not is_working_day(day, extra):
        day += timedelta(days=1)
    return day
