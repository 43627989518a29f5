"""Durations, daily time windows and retention periods as people write them in
config: "48h", "6w", "20:00-09:00", "12 months after case closed"."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "15m", "48h", "3d", "6w". Raises ValueError with a hint."""
    match = _DURATION.match(str(text).lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write a number and one of s, m, h, d, w")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_window(text: str) -> tuple[time, time]:
    """Parse "20:00-09:00" into (start, end); the window may wrap midnight."""
    match = _WINDOW.match(str(text))
    if not match:
        raise ValueError(f'{text!r} is not a time window; write it like "20:00-09:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{text!r} has a time that does not exist")
    return time(h1, m1), time(h2, m2)


# -- retention periods -----------------------------------------------------------------

_PERIOD = re.compile(
    r"^\s*(\d+)\s*(d|days?|w|weeks?|mo|months?|y|years?)\s*(after\s+case\s+closed)?\s*$"
)
_PERIOD_UNITS = {"d": "days", "w": "weeks", "mo": "months", "y": "years"}
FOREVER = "forever"


@dataclass(frozen=True, slots=True)
class Retention:
    """How long one kind of data is kept: `amount` `unit` (days, weeks,
    months or years) counted from the row's own date, or from the closing of
    the family's case when `after_case_closed`. `amount` None keeps it forever.

    Months and years are calendar months and years (12 months before 31 March
    is 31 March a year earlier; a day that does not exist in the target month
    becomes that month's last day), so a policy of "12 months" never deletes
    a day early."""

    amount: int | None
    unit: str = "days"
    after_case_closed: bool = False

    @property
    def forever(self) -> bool:
        return self.amount is None

    def cutoff(self, now: datetime) -> datetime | None:
        """Rows dated before this are past the limit; None when kept forever."""
        if self.amount is None:
            return None
        if self.unit == "days":
            return now - timedelta(days=self.amount)
        if self.unit == "weeks":
            return now - timedelta(weeks=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        index = now.year * 12 + now.month - 1 - months
        year, month = divmod(index, 12)
        month += 1
        day = min(now.day, calendar.monthrange(year, month)[1])
        return now.replace(year=year, month=month, day=day)

    def describe(self) -> str:
        if self.amount is None:
            return FOREVER
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        text = f"{self.amount} {unit}"
        return f"{text} after case closed" if self.after_case_closed else text


def parse_retention(text: object) -> Retention:
    """Parse a retention period: "90d", "6w", "3y", "12 months", "12 months
    after case closed" or "forever". Raises ValueError with a hint."""
    raw = str(text).strip().lower()
    if raw == FOREVER:
        return Retention(None)
    match = _PERIOD.match(raw)
    if not isinstance(text, str) or not match:
        raise ValueError(
            f"{text!r} is not a retention period; write a number and d, w, mo (months) or y, "
            'optionally followed by "after case closed", or "forever"'
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f'{text!r} must be longer than zero (or "forever")')
    unit = match.group(2)
    name = _PERIOD_UNITS.get(unit) or (unit if unit.endswith("s") else unit + "s")
    return Retention(amount, name, bool(match.group(3)))
