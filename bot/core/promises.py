"""Promises and "you said" texts, as plain rules: when a promise falls due,
and whether a worker's or manager's words are fit to show a family. Pure:
`now` and the organisation's time zone are passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.durations import parse_duration
from bot.core.errors import HeardError
from bot.core.plain_language import MAX_WORDS, check_text, words

MAX_PROMISE_CHARS = 300
MAX_YOU_SAID_CHARS = 300
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Record:
    """A report figure that comes from what Heard recorded (promises and their
    answers, case changes, "you said" messages) rather than from one survey
    question. It goes through the reports' disclosure control like any
    question: `n` is the distinct families behind it, and `codes` are the
    answers its distribution counts."""

    id: str
    dimension: str
    codes: tuple[str, ...]


PROMISES_KEPT = Record("promises_kept", "honesty", ("yes", "no", "unsure"))
"""Promises whose family answered in the period: kept (yes), not kept, not sure."""
PROMISES_REPAIRED = Record("promises_repaired", "honesty", ("yes", "no", "unsure"))
"""Of those not kept: the worker explained or said sorry (yes), did not, no answer."""
CHANGES = ("changes_0", "changes_1", "changes_2", "changes_3")
"""Worker changes: none, one, two, three or more."""
CHANGES_6_MONTHS = Record("worker_changes_6m", "continuity", CHANGES)
"""Families who answered in the period, by worker changes on their case in
the 6 months up to the period's end (from the case records)."""
CHANGES_12_MONTHS = Record("worker_changes_12m", "continuity", CHANGES)
LISTENED_AFTER = Record("listened_after_you_said", "overall", ("yes", "no", "unsure"))
"""Answers in the period to "Do you feel that people listen to you?" from
families of teams that sent a "you said, we did" message before it began."""
RECORDS = {
    r.id: r
    for r in (PROMISES_KEPT, PROMISES_REPAIRED, CHANGES_6_MONTHS, CHANGES_12_MONTHS, LISTENED_AFTER)
}
CHANGE_WINDOWS = {
    CHANGES_6_MONTHS.id: timedelta(days=183),
    CHANGES_12_MONTHS.id: timedelta(days=365),
}


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime
    """The moment the promise is due: the end of the due date in the
    organisation's time zone, or now plus a duration."""
    ask_at: datetime
    """When the family may be asked: `at` plus `[promises] ask_after`."""


def parse_due(text: str, now: datetime, zone: ZoneInfo, ask_after: timedelta) -> Due:
    """`2026-12-05` (the end of that day, local time) or a duration from now
    (`3d`, `10s`). Raises HeardError saying how to write it."""
    raw = text.strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is not None:
        if day < now.astimezone(zone).date():
            raise HeardError(
                f"the due date {day.isoformat()} is in the past; give today or a later date"
            )
        end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
        at = end.astimezone(now.tzinfo)
        return Due(at, at + ask_after)
    try:
        at = now + parse_duration(raw)
    except ValueError:
        raise HeardError(
            f"cannot read the due date {raw!r}; write a date like 2026-12-05 "
            "or a time from now like 3d"
        ) from None
    return Due(at, at + ask_after)


def check_family_text(text: str, locale: str, *, limit: int, what: str) -> str:
    """The text, stripped, if a family can read it; else HeardError with a
    kind word on what to change: the `heard lint` rules, with the word limit
    applied to each sentence, so a message may say two short things."""
    plain = " ".join(text.split())
    if not plain:
        raise HeardError(f"the {what} is empty; write it as you would say it to the family")
    if len(plain) > limit:
        raise HeardError(
            f"the {what} is {len(plain)} characters; families read it on a phone, "
            f"so keep it to {limit} or fewer"
        )
    too_long = f"words; keep a question to {MAX_WORDS} or fewer"
    reasons = [r for r in check_text(plain, locale) if not r.endswith(too_long)]
    for sentence in _SENTENCE_END.split(plain):
        n = len(words(sentence))
        if n > MAX_WORDS:
            reasons.append(f"a sentence of {n} words; keep each to {MAX_WORDS} or fewer")
    if reasons:
        raise HeardError(
            f"the {what} is not quite plain enough for a family yet: {'; '.join(reasons)}. "
            "Try again with the words you would use when you talk to them"
        )
    return plain
