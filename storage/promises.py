"""Every statement for promises, case changes and "you said, we did", and the
SQL aggregations behind their figures.

`record_aggregates` returns the figures per worker, team and organisation
and period, in the shape the reports' disclosure control takes; nothing here
returns a single promise's outcome, so nothing can show a worker how one
family answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import case, distinct, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from bot.core.promises import (
    CHANGE_WINDOWS,
    CHANGES,
    CHANGES_6_MONTHS,
    CHANGES_12_MONTHS,
    LISTENED_AFTER,
    PROMISES_KEPT,
    PROMISES_REPAIRED,
    Record,
)
from storage.models import (
    Answer,
    CaseChange,
    Contact,
    Conversation,
    Invite,
    Promise,
    Respondent,
    Worker,
    YouSaid,
)
from storage.reports import Aggregate

# -- promises -------------------------------------------------------------------


def add_promise(session: Session, **values: Any) -> int:
    result = session.execute(insert(Promise).values(**values))
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


def promise_text(session: Session, promise_id: int, respondent_id: int) -> str | None:
    """The promise's words, if it is still unanswered and for this family."""
    return session.scalar(
        select(Promise.text).where(
            Promise.id == promise_id,
            Promise.respondent_id == respondent_id,
            Promise.outcome.is_(None),
        )
    )


def next_promise_to_ask(
    session: Session, respondent_id: int, now: datetime
) -> tuple[int, str] | None:
    """The family's oldest promise that is due to be asked and never was."""
    row = session.execute(
        select(Promise.id, Promise.text)
        .where(
            Promise.respondent_id == respondent_id,
            Promise.asked_at.is_(None),
            Promise.outcome.is_(None),
            Promise.ask_at <= now,
        )
        .order_by(Promise.ask_at, Promise.id)
        .limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else None


def mark_promise_asked(session: Session, promise_id: int, now: datetime) -> None:
    session.execute(update(Promise).where(Promise.id == promise_id).values(asked_at=now))


def record_promise_outcome(
    session: Session,
    *,
    promise_id: int,
    respondent_id: int,
    outcome: str,
    repaired: bool | None,
    now: datetime,
) -> bool:
    """Store the family's answer. The first answer counts: a later one can
    only add whether a broken promise was repaired."""
    first = session.execute(
        update(Promise)
        .where(
            Promise.id == promise_id,
            Promise.respondent_id == respondent_id,
            Promise.outcome.is_(None),
        )
        .values(outcome=outcome, repaired=repaired, answered_at=now)
    )
    if cast(CursorResult[Any], first).rowcount:
        return True
    if repaired is None:
        return False
    more = session.execute(
        update(Promise)
        .where(
            Promise.id == promise_id,
            Promise.respondent_id == respondent_id,
            Promise.outcome == "no",
            Promise.repaired.is_(None),
        )
        .values(repaired=repaired)
    )
    return bool(cast(CursorResult[Any], more).rowcount)


@dataclass(frozen=True, slots=True)
class OpenPromise:
    id: int
    code: str
    text: str
    due_at: datetime
    ask_at: datetime
    asked: bool


def open_promises(session: Session, worker_id: int) -> list[OpenPromise]:
    """A worker's promises on open cases that the family has not answered
    yet. Answered ones are left out, so the list reveals no outcome."""
    rows = session.execute(
        select(
            Promise.id,
            Invite.code,
            Promise.text,
            Promise.due_at,
            Promise.ask_at,
            Promise.asked_at,
        )
        .join(Invite, Invite.id == Promise.invite_id)
        .where(
            Promise.worker_id == worker_id,
            Promise.outcome.is_(None),
            Invite.closed_at.is_(None),
        )
        .order_by(Promise.due_at, Promise.id)
    ).all()
    return [OpenPromise(r[0], r[1], r[2], r[3], r[4], r[5] is not None) for r in rows]


def family_of_invite(session: Session, invite_id: int) -> int | None:
    """The family bound to this invite now (a case has one family)."""
    return session.scalar(
        select(Respondent.id).where(Respondent.invite_id == invite_id).order_by(Respondent.id)
    )


# -- case changes -----------------------------------------------------------------


def reassign_case(
    session: Session,
    *,
    invite: Invite,
    to_worker_id: int,
    to_team_id: int,
    actor: str,
    now: datetime,
) -> int:
    """Move a case to another worker: the invite and the family bound to it
    point at the new worker from now on (later answers are theirs), and the
    change is recorded with its date. Returns how many families moved."""
    session.add(
        CaseChange(
            invite_id=invite.id,
            team_id=to_team_id,
            from_worker_id=invite.worker_id,
            to_worker_id=to_worker_id,
            at=now,
            actor=actor,
        )
    )
    session.execute(
        update(Invite)
        .where(Invite.id == invite.id)
        .values(worker_id=to_worker_id, team_id=to_team_id)
    )
    moved = session.execute(
        update(Respondent)
        .where(Respondent.invite_id == invite.id)
        .values(worker_id=to_worker_id, team_id=to_team_id)
    )
    return int(cast(CursorResult[Any], moved).rowcount or 0)


def worker_name(session: Session, worker_id: int) -> str:
    return str(session.scalar(select(Worker.name).where(Worker.id == worker_id)) or "")


def case_changes_of(session: Session, invite_id: int) -> Sequence[CaseChange]:
    return session.scalars(
        select(CaseChange).where(CaseChange.invite_id == invite_id).order_by(CaseChange.at)
    ).all()


# -- you said, we did -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Audience:
    respondent_id: int
    platform: str
    address: str
    locale: str


def you_said_audience(session: Session, team_id: int, since: datetime) -> list[Audience]:
    """The families of a team who answered since `since`, have not stopped,
    declined, blocked Heard or been forgotten, and can still be reached (a
    closed case has no contact address)."""
    answered = (
        select(Answer.respondent_id)
        .where(Answer.team_id == team_id, Answer.answered_at >= since)
        .distinct()
    )
    rows = session.execute(
        select(Respondent.id, Contact.platform, Contact.address, Conversation.state)
        .join(Contact, Contact.respondent_id == Respondent.id)
        .outerjoin(Conversation, Conversation.respondent_id == Respondent.id)
        .where(
            Respondent.team_id == team_id,
            Respondent.status == "active",
            Respondent.id.in_(answered),
        )
        .order_by(Respondent.id)
    ).all()
    return [Audience(int(r[0]), r[1], r[2], str((r[3] or {}).get("locale") or "en")) for r in rows]


def add_you_said(
    session: Session,
    *,
    team_id: int,
    text: dict[str, str],
    families: int,
    actor: str,
    now: datetime,
    request_key: str | None = None,
) -> int | None:
    """Store the message; None (and nothing stored) if a message with the
    same `request_key` was stored before: the preview was confirmed twice."""
    from storage.repo import _insert

    stmt = _insert(session, YouSaid).values(
        team_id=team_id,
        text=text,
        families=families,
        actor=actor,
        created_at=now,
        request_key=request_key,
    )
    made = session.execute(
        stmt.on_conflict_do_nothing(index_elements=["request_key"]).returning(YouSaid.id)
    ).first()
    return None if made is None else int(made[0])


def you_said_for_checkin(
    session: Session, team_id: int, respondent_id: int
) -> dict[str, str] | None:
    """The team's newest "you said" text made since the family last
    answered (ever, if they never did), in one statement."""
    last = (
        select(func.max(Answer.answered_at))
        .where(Answer.respondent_id == respondent_id)
        .scalar_subquery()
    )
    return session.scalar(
        select(YouSaid.text)
        .where(YouSaid.team_id == team_id, or_(last.is_(None), YouSaid.created_at > last))
        .order_by(YouSaid.created_at.desc(), YouSaid.id.desc())
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A "you said, we did" message as reports list it: what a team changed."""

    team_id: int
    at: datetime
    text: dict[str, str]


def you_said_changes(
    session: Session, start: datetime, end: datetime, team_id: int | None
) -> list[Change]:
    """The messages sent in [start, end), of one team or of every team."""
    q = select(YouSaid.team_id, YouSaid.created_at, YouSaid.text).where(
        YouSaid.created_at >= start, YouSaid.created_at < end
    )
    if team_id is not None:
        q = q.where(YouSaid.team_id == team_id)
    rows = session.execute(q.order_by(YouSaid.created_at, YouSaid.id))
    return [Change(int(t), at, dict(text)) for t, at, text in rows]


# -- the figures reports show ----------------------------------------------------------


def record_aggregates(session: Session, start: datetime, end: datetime) -> list[Aggregate]:
    """The figures of `bot.core.promises.RECORDS` for [start, end), for every
    worker, team and the organisation, in the shape of the reports' own
    aggregates so the same disclosure control decides what is shown. Each
    counts distinct families (`n`) and items per answer code, in SQL; none
    holds a single promise's outcome on its own."""
    out = _levels(session, _promise_rows(start, end, repaired=False), PROMISES_KEPT)
    out += _levels(session, _promise_rows(start, end, repaired=True), PROMISES_REPAIRED)
    for record in (CHANGES_6_MONTHS, CHANGES_12_MONTHS):
        since = end - CHANGE_WINDOWS[record.id]
        out += _levels(session, _change_rows(start, end, since), record)
    out += _levels(session, _listened_rows(start, end), LISTENED_AFTER)
    return out


def _levels(session: Session, src: Subquery, record: Record) -> list[Aggregate]:
    """Group `src` (team_id, worker_id, respondent_id, code: one row per item)
    at the organisation, team and worker levels. Distinct families are
    counted at each level (a family may have items under two workers);
    items per code add up, so they are counted once at the finest level.
    Every item belongs to one family, so a cell of at least k families is
    also one of at least k items (promises, answers)."""
    found: dict[tuple[int | None, int | None], Aggregate] = {}
    levels: tuple[tuple[Any, ...], ...] = ((), (src.c.team_id,), (src.c.team_id, src.c.worker_id))
    for scope in levels:
        rows = session.execute(
            select(*scope, func.count(distinct(src.c.respondent_id)), func.count())
            .select_from(src)
            .group_by(*scope)
        )
        for row in rows:
            if not row[-1]:
                continue
            team = int(row[0]) if len(scope) > 0 else None
            worker = int(row[1]) if len(scope) > 1 else None
            found[(team, worker)] = Aggregate(
                team, worker, record.dimension, "", 0, record.id, int(row[-2]), int(row[-1])
            )
    codes = session.execute(
        select(src.c.team_id, src.c.worker_id, src.c.code, func.count())
        .select_from(src)
        .group_by(src.c.team_id, src.c.worker_id, src.c.code)
    )
    for team, worker, code, count in codes:
        for key in ((None, None), (int(team), None), (int(team), int(worker))):
            dist = found[key].distribution
            dist[str(code)] = dist.get(str(code), 0) + int(count)
    return list(found.values())


def _promise_rows(start: datetime, end: datetime, *, repaired: bool) -> Subquery:
    """Promises answered in [start, end), under the worker who made them;
    with `repaired`, only those not kept, coded by whether it was put right.
    A forgotten family's promises are left out: with no family to count,
    their cell could not be held to k."""
    if repaired:
        code = case(
            (Promise.repaired.is_(True), "yes"), (Promise.repaired.is_(False), "no"), else_="unsure"
        )
    else:
        code = case(
            (Promise.outcome == "yes", "yes"), (Promise.outcome == "no", "no"), else_="unsure"
        )
    q = select(
        Promise.team_id.label("team_id"),
        Promise.worker_id.label("worker_id"),
        Promise.respondent_id.label("respondent_id"),
        code.label("code"),
    ).where(
        Promise.outcome.is_not(None),
        Promise.respondent_id.is_not(None),
        Promise.answered_at >= start,
        Promise.answered_at < end,
    )
    if repaired:
        q = q.where(Promise.outcome == "no")
    return q.subquery()


def _change_rows(start: datetime, end: datetime, since: datetime) -> Subquery:
    """Each family who answered in [start, end), under their worker now, coded
    by how often their case changed worker in [since, end)."""
    answered = (
        select(Answer.respondent_id)
        .where(Answer.answered_at >= start, Answer.answered_at < end)
        .distinct()
        .subquery()
    )
    per_case = (
        select(CaseChange.invite_id, func.count().label("n"))
        .where(CaseChange.at >= since, CaseChange.at < end)
        .group_by(CaseChange.invite_id)
        .subquery()
    )
    n = func.coalesce(per_case.c.n, 0)
    code = case((n >= 3, CHANGES[3]), (n == 2, CHANGES[2]), (n == 1, CHANGES[1]), else_=CHANGES[0])
    return (
        select(
            Respondent.team_id.label("team_id"),
            Respondent.worker_id.label("worker_id"),
            Respondent.id.label("respondent_id"),
            code.label("code"),
        )
        .join(answered, answered.c.respondent_id == Respondent.id)
        .outerjoin(per_case, per_case.c.invite_id == Respondent.invite_id)
        .subquery()
    )


def _listened_rows(start: datetime, end: datetime, question_id: str = "listened_to") -> Subquery:
    """Answers to the listened-to question in [start, end) from families of
    teams that sent a "you said" message before `start`. Whole team-periods
    only: a cut at the message's time would make the answers before it a
    second, smaller group that subtraction could single out."""
    told = (
        select(YouSaid.team_id).where(YouSaid.created_at < start).group_by(YouSaid.team_id)
    ).subquery()
    return (
        select(
            Answer.team_id.label("team_id"),
            Answer.worker_id.label("worker_id"),
            Answer.respondent_id.label("respondent_id"),
            Answer.code.label("code"),
        )
        .join(told, told.c.team_id == Answer.team_id)
        .where(
            Answer.question_id == question_id,
            Answer.answered_at >= start,
            Answer.answered_at < end,
        )
        .subquery()
    )
