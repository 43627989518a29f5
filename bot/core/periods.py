"""Fixed calendar periods: a month ("2026-11"), a quarter ("2026-Q4") or a
year ("2026"). Reports accept nothing else, because two overlapping free date
ranges would let anyone subtract one from the other and find a single family.

A period can be reported only once it has ended: figures that still move would
let two runs a day apart be subtracted too. `now` is always passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.core.errors import PeriodError


class Grain(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
EXAMPLES = '"2026-11" (a month), "2026-Q4" (a quarter) or "2026" (a year)'


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    first_month: int
    """1..12."""
    months: int
    """1, 3 or 12."""

    @property
    def grain(self) -> Grain:
        return {1: Grain.MONTH, 3: Grain.QUARTER, 12: Grain.YEAR}[self.months]

    @property
    def label(self) -> str:
        if self.months == 1:
            return f"{self.year}-{self.first_month:02d}"
        if self.months == 3:
            return f"{self.year}-Q{(self.first_month - 1) // 3 + 1}"
        return f"{self.year}"

    def __str__(self) -> str:
        return self.label

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.first_month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        last = self.first_month + self.months
        return datetime(self.year + (last - 1) // 12, (last - 1) % 12 + 1, 1, tzinfo=UTC)

    def month_periods(self) -> tuple[Period, ...]:
        return tuple(
            month(self.year, m) for m in range(self.first_month, self.first_month + self.months)
        )

    def quarter(self) -> Period:
        return Period(self.year, (self.first_month - 1) // 3 * 3 + 1, 3)

    def year_period(self) -> Period:
        return Period(self.year, 1, 12)

    def is_over(self, now: datetime) -> bool:
        return now >= self.end


def month(year: int, m: int) -> Period:
    return Period(year, m, 1)


def parse(text: str) -> Period:
    """Read "2026-11", "2026-Q4" or "2026". Raises PeriodError saying what works."""
    t = text.strip()
    if found := _MONTH.match(t):
        year, m = int(found[1]), int(found[2])
        if not 1 <= m <= 12:
            raise PeriodError(f"period {text!r}: there is no month {m}; use {EXAMPLES}")
        return _in_range(Period(year, m, 1), text)
    if found := _QUARTER.match(t):
        return _in_range(Period(int(found[1]), (int(found[2]) - 1) * 3 + 1, 3), text)
    if found := _YEAR.match(t):
        return _in_range(Period(int(found[1]), 1, 12), text)
    raise PeriodError(
        f"period {text!r} is not a calendar period; use {EXAMPLES} (no date ranges, so "
        "that two reports can never be subtracted to single out a family)"
    )


def _in_range(period: Period, text: str) -> Period:
    if not 2000 <= period.year <= 2999:
        raise PeriodError(f"period {text!r}: the year must be between 2000 and 2999")
    return period


def last_month(now: datetime) -> Period:
    """The newest month that has ended."""
    if now.month == 1:
        return month(now.year - 1, 12)
    return month(now.year, now.month - 1)


def finished(period: Period, now: datetime) -> Period:
    """`period` itself if it has ended, else PeriodError naming what can be asked for."""
    if period.is_over(now):
        return period
    newest = last_month(now)
    if period.start > now:
        what = "is in the future"
    else:
        what = (
            "has not ended yet, and figures that still change could be compared "
            "to single out a family"
        )
    raise PeriodError(f"period {period}: {what}; the newest month you can ask for is {newest}")


def months_before(period: Period, count: int) -> tuple[Period, ...]:
    """The `count` months before `period` starts, oldest first (for trends)."""
    out: list[Period] = []
    y, m = period.year, period.first_month
    for _ in range(count):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        out.append(month(y, m))
    return tuple(reversed(out))
