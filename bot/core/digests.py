"""Digests, the pure part: when one falls due, which period it covers, which
larger period to fall back to under k, and the order comments are shown in.

A digest covers a fixed calendar period that has ended (a month or a
quarter) and goes out at `send_at` on the first working day (Monday to
Friday) of the next period, in the organisation's time zone. Comments are
shown in an order that looks random to the worker, so nobody can tell whose
came first, yet the same digest always shows the same order: each comment is
placed by a keyed hash of its id under a secret seed the caller passes in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.core import periods
from bot.core.periods import Period

T = TypeVar("T")

EVERY_MONTHS = {"monthly": 1, "quarterly": 3}


@dataclass(frozen=True, slots=True)
class Due:
    period: Period
    """The period the digest covers (it has ended)."""
    at: datetime
    """When it fell due (UTC)."""


def first_working_day(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _period_starting(year: int, month: int, months: int) -> Period:
    first = (month - 1) // months * months + 1
    return Period(year, first, months)


def _previous(period: Period) -> Period:
    m = period.first_month - period.months
    if m < 1:
        return Period(period.year - 1, m + 12, period.months)
    return Period(period.year, m, period.months)


def due_moment(period: Period, send_at: time, zone: ZoneInfo) -> datetime:
    """When the digest for `period` (once it has ended) is due: `send_at`
    local time on the first working day after it."""
    end = period.end
    day = first_working_day(date(end.year, end.month, 1))
    return datetime.combine(day, send_at, tzinfo=zone).astimezone(end.tzinfo)


def latest_due(now: datetime, months: int, send_at: time, zone: ZoneInfo) -> Due:
    """The newest digest that has fallen due by `now`: so after any downtime
    only the latest one is sent, once, rather than one for every missed tick."""
    local = now.astimezone(zone)
    current = _period_starting(local.year, local.month, months)
    covered = _previous(current)
    at = due_moment(covered, send_at, zone)
    if at > now:
        covered = _previous(covered)
        at = due_moment(covered, send_at, zone)
    return Due(covered, at)


def fallbacks(period: Period, now: datetime) -> tuple[Period, ...]:
    """`period`, then the smallest larger fixed periods that have ended and
    hold it or come just before it: the newest finished quarter, then the
    newest finished year. A digest under k uses the first that reaches k."""
    out = [period]
    if period.months < 3:
        quarter = period.quarter()
        if not quarter.is_over(now):
            quarter = _previous(quarter)
        out.append(quarter)
    year = period.year_period()
    if not year.is_over(now):
        year = _previous(year)
    out.append(year)
    return tuple(out)


def previous(period: Period) -> Period:
    """The period of the same length just before `period` (for "change")."""
    return _previous(period)


def ordered(items: Sequence[T], ident: Callable[[T], str], seed: bytes) -> list[T]:
    """`items` in an order fixed by `seed` and unrelated to when they came."""
    return sorted(
        items, key=lambda item: hmac.new(seed, ident(item).encode(), hashlib.sha256).digest()
    )


def month_label(at: datetime) -> str:
    return periods.month(at.year, at.month).label
