"""Fixed calendar periods: only months, quarters and years that have ended."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.errors import PeriodError
from bot.core.periods import Grain, finished, last_month, months_before, parse

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "grain", "start", "end"),
    [
        (
            "2026-11",
            Grain.MONTH,
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        ),
        (
            "2026-Q4",
            Grain.QUARTER,
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            "2025-q1",
            Grain.QUARTER,
            datetime(2025, 1, 1, tzinfo=UTC),
            datetime(2025, 4, 1, tzinfo=UTC),
        ),
        ("2025", Grain.YEAR, datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (
            "2025-12",
            Grain.MONTH,
            datetime(2025, 12, 1, tzinfo=UTC),
            datetime(2026, 1, 1, tzinfo=UTC),
        ),
    ],
)
def test_calendar_periods_are_read(text: str, grain: Grain, start: datetime, end: datetime) -> None:
    period = parse(text)
    assert (period.grain, period.start, period.end) == (grain, start, end)
    assert parse(period.label) == period


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-13", "no month 13"),
        ("2026-Q5", "not a calendar period"),
        ("2026-11-01", "not a calendar period"),
        ("2026-11-01..2026-11-15", "no date ranges"),
        ("last month", "not a calendar period"),
        ("1999", "between 2000 and 2999"),
    ],
)
def test_anything_else_is_refused_with_what_works(text: str, says: str) -> None:
    with pytest.raises(PeriodError, match=says):
        parse(text)


def test_only_periods_that_have_ended_can_be_reported() -> None:
    assert finished(parse("2026-11"), NOW).label == "2026-11"
    assert finished(parse("2026-Q3"), NOW).label == "2026-Q3"
    with pytest.raises(
        PeriodError, match=r"has not ended yet.*newest month you can ask for is 2026-11"
    ):
        finished(parse("2026-12"), NOW)
    with pytest.raises(PeriodError, match="has not ended"):
        finished(parse("2026"), NOW)
    with pytest.raises(PeriodError, match="in the future"):
        finished(parse("2027-01"), NOW)


def test_the_default_and_the_trend_months() -> None:
    assert last_month(NOW).label == "2026-11"
    assert last_month(datetime(2027, 1, 5, tzinfo=UTC)).label == "2026-12"
    assert [m.label for m in months_before(parse("2026-02"), 3)] == [
        "2025-11",
        "2025-12",
        "2026-01",
    ]
