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
    assert due.at == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


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
