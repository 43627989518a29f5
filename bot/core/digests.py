"""Digests, the pure part: when one falls due, which period it covers, which
larger period to fall back to under k, and the order comments are shown in.

A digest covers a fixed calendar period that has ended (a month or a
quarter) and goes out at `send_at` on the first working day (Monday to
Friday, not a bank holiday in England and Wales nor one of the
organisation's own closure days) of the next period, in the organisation's
time zone.

Weekly digests never show a figure for a week: weeks straddle months, and a
week's figures beside its month's would let anyone subtract one from the
other and find a family the month's k protects. A weekly digest (for the ISO
week that has just ended, sent on the first working day of the next) shows
the figures of the newest fixed period that has ended and reaches k, the same
figures the monthly digest shows, and of the comments only those released
since the weekly digest before; the first weekly digest after a period starts
to be covered shows all that period's released comments. Comments are
shown in an order that looks random to the worker, so nobody can tell whose
came first, yet the same digest always shows the same order: each comment is
placed by a keyed hash of its id under a secret seed the caller passes in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.core import holidays, periods
from bot.core.periods import Period

T = TypeVar("T")

EVERY_MONTHS = {"monthly": 1, "quarterly": 3}


@dataclass(frozen=True, slots=True)
class Due:
    period: Period
    """The period the digest covers (it has ended)."""
    at: datetime
    """When it fell due (UTC)."""
    week: str | None = None
    """For a weekly digest, the ISO week it is named by ("2026-W48")."""


def first_working_day(day: date, extra: Collection[date] = ()) -> date:
    return holidays.first_working_day(day, extra)


def _period_starting(year: int, month: int, months: int) -> Period:
    first = (month - 1) // months * months + 1
    return Period(year, first, months)


def _previous(period: Period) -> Period:
    m = period.first_month - period.months
    if m < 1:
        return Period(period.year - 1, m + 12, period.months)
    return Period(period.year, m, period.months)


def due_moment(
    period: Period, send_at: time, zone: ZoneInfo, extra: Collection[date] = ()
) -> datetime:
    """When the digest for `period` (once it has ended) is due: `send_at`
    local time on the first working day after it."""
    end = period.end
    day = first_working_day(date(end.year, end.month, 1), extra)
    return datetime.combine(day, send_at, tzinfo=zone).astimezone(end.tzinfo)


def latest_due(
    now: datetime, months: int, send_at: time, zone: ZoneInfo, extra: Collection[date] = ()
) -> Due:
    """The newest digest that has fallen due by `now`: so after any downtime
    only the latest one is sent, once, rather than one for every missed tick."""
    local = now.astimezone(zone)
    current = _period_starting(local.year, local.month, months)
    covered = _previous(current)
    at = due_moment(covered, send_at, zone, extra)
    if at > now:
        covered = _previous(covered)
        at = due_moment(covered, send_at, zone, extra)
    return Due(covered, at)


@dataclass(frozen=True, slots=True)
class WeeklyDue:
    week: str
    """The ISO week that has ended, "2026-W48": it names the digest, and is
    never a period any figure is given for."""
    at: datetime
    """When it falls due (UTC): `send_at` on the first working day after the week."""
    period: Period
    """The fixed period its figures come from: the newest month ended by `at`
    (falling back, under k, like any digest)."""
    since: datetime | None
    """Comments released from this moment on are new to this digest; None
    when the weekly digest before it covered another month, so all the
    period's released comments are new."""


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def is_week(label: str) -> bool:
    return _WEEK.match(label) is not None


def _week_monday(label: str) -> date:
    found = _WEEK.match(label)
    if found is None:
        raise ValueError(f"not an ISO week: {label!r}")
    return date.fromisocalendar(int(found[1]), int(found[2]), 1)


def _weekly_at(
    monday_after: date, send_at: time, zone: ZoneInfo, extra: Collection[date]
) -> datetime:
    day = first_working_day(monday_after, extra)
    return datetime.combine(day, send_at, tzinfo=zone).astimezone(UTC)


def weekly(week: str, send_at: time, zone: ZoneInfo, extra: Collection[date] = ()) -> WeeklyDue:
    """The weekly digest named by `week` (an ISO week that has ended)."""
    monday_after = _week_monday(week) + timedelta(days=7)
    at = _weekly_at(monday_after, send_at, zone, extra)
    local = at.astimezone(zone)
    period = periods.last_month(local.replace(tzinfo=None))
    before = _weekly_at(monday_after - timedelta(days=7), send_at, zone, extra)
    before_local = before.astimezone(zone)
    same = periods.last_month(before_local.replace(tzinfo=None)) == period
    return WeeklyDue(week, at, period, before if same else None)


def latest_weekly(
    now: datetime, send_at: time, zone: ZoneInfo, extra: Collection[date] = ()
) -> WeeklyDue:
    """The newest weekly digest that has fallen due by `now`."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    due = weekly(week_label(monday - timedelta(days=7)), send_at, zone, extra)
    if due.at > now:
        due = weekly(week_label(monday - timedelta(days=14)), send_at, zone, extra)
    return due


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
