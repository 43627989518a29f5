"""When digests fall due and which period they cover (pure), and the cron
that `heard run` sets up for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.core import digests
from bot.core.periods import Period, month

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 1), date(2026, 11, 2)),  # a Sunday
        (date(2026, 8, 1), date(2026, 8, 3)),  # a Saturday
        (date(2026, 12, 1), date(2026, 12, 1)),  # a Tuesday
    ],
)
def test_the_first_working_day(day: date, working: date) -> None:
    assert digests.first_working_day(day) == working


def test_a_monthly_digest_is_due_at_send_at_on_the_first_working_day_in_local_time() -> None:
    due = digests.latest_due(datetime(2026, 8, 3, 8, 0, tzinfo=UTC), 1, time(9), LONDON)
    assert due.period == month(2026, 7)
    assert due.at == datetime(2026, 8, 3, 8, 0, tzinfo=UTC)  # 09:00 summer time
    before = digests.latest_due(datetime(2026, 8, 3, 7, 59, tzinfo=UTC), 1, time(9), LONDON)
    assert before.period == month(2026, 6)


def test_after_a_long_downtime_only_the_newest_due_digest_is_planned() -> None:
    due = digests.latest_due(datetime(2027, 3, 15, tzinfo=UTC), 1, time(9), LONDON)
    assert due.period == month(2027, 2)


def test_a_quarterly_digest_covers_the_quarter_just_ended() -> None:
    due = digests.latest_due(datetime(2027, 1, 4, 12, tzinfo=UTC), 3, time(9), LONDON)
    assert due.period == Period(2026, 10, 3)
    assert due.at == datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # 1 January is a bank holiday


def test_under_k_the_digest_falls_back_to_finished_quarters_and_years() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert digests.fallbacks(month(2026, 11), now) == (
        month(2026, 11),
        Period(2026, 7, 3),
        Period(2025, 1, 12),
    )
    assert digests.fallbacks(month(2026, 9), datetime(2026, 10, 2, tzinfo=UTC)) == (
        month(2026, 9),
        Period(2026, 7, 3),
        Period(2025, 1, 12),
    )


def test_comments_keep_one_order_per_seed_unrelated_to_arrival() -> None:
    items = [str(i) for i in range(30)]
    first = digests.ordered(items, str, b"seed-1")
    assert first == digests.ordered(items, str, b"seed-1")
    assert first != items and sorted(first) == sorted(items)
    assert digests.ordered(items, str, b"seed-2") != first


def test_an_organisation_s_closure_day_moves_the_digest_on() -> None:
    closed = [date(2026, 12, 1)]
    due = digests.latest_due(datetime(2026, 12, 1, 12, tzinfo=UTC), 1, time(9), LONDON, closed)
    assert due.period == month(2026, 10)
    due = digests.latest_due(datetime(2026, 12, 2, 9, tzinfo=UTC), 1, time(9), LONDON, closed)
    assert due.period == month(2026, 11) and due.at == datetime(2026, 12, 2, 9, tzinfo=UTC)


def test_a_weekly_digest_is_named_by_its_week_and_gives_a_finished_month_s_figures() -> None:
    due = digests.latest_weekly(datetime(2026, 12, 9, 12, tzinfo=UTC), time(9), LONDON)
    assert due.week == "2026-W49"  # 30 November to 6 December, straddling two months
    assert due.at == datetime(2026, 12, 7, 9, tzinfo=UTC)
    assert due.period == month(2026, 11)  # never the week itself
    assert due.since is None  # the first weekly digest to cover November: all its comments


def test_later_weekly_digests_of_the_same_month_carry_only_newly_released_comments() -> None:
    first = digests.weekly("2026-W49", time(9), LONDON)
    second = digests.weekly("2026-W50", time(9), LONDON)
    assert second.period == first.period == month(2026, 11)
    assert second.since == first.at and second.at == datetime(2026, 12, 14, 9, tzinfo=UTC)


def test_a_weekly_digest_after_a_bank_holiday_monday_waits_for_tuesday() -> None:
    due = digests.weekly("2026-W52", time(9), LONDON, [date(2026, 12, 29)])
    assert due.at == datetime(2026, 12, 30, 9, tzinfo=UTC)  # 28th bank holiday, 29th closed
    early = digests.latest_weekly(datetime(2026, 12, 29, 12, tzinfo=UTC), time(9), LONDON)
    assert early.week == "2026-W52" and early.at == datetime(2026, 12, 29, 9, tzinfo=UTC)
    easter = digests.weekly("2027-W12", time(9), LONDON)  # Easter Monday 29 March 2027
    assert easter.at == datetime(2027, 3, 30, 8, tzinfo=UTC)  # 09:00 BST
    assert digests.is_week("2026-W49") and not digests.is_week("2026-11")
