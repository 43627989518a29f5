"""Every statement for promises, case changes and "you said, we did", and the
SQL aggregations behind their figures.

The figure functions return plain counts per team or worker and period, the
shape the reports' disclosure control takes; none returns a single
promise's outcome, so nothing here can show a worker how one family answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, case, distinct, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

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


@dataclass(frozen=True, slots=True)
class PromiseCounts:
    group_id: int
    """The team's or worker's id."""
    families: int
    """Distinct families who answered at least one promise question."""
    answered: int
    kept: int
    not_kept: int
    repaired: int
    """Of those not kept: the worker explained or said sorry."""
    unsure: int


def promise_figures(
    session: Session, start: datetime, end: datetime, *, by: str = "team"
) -> list[PromiseCounts]:
    """Per team (or worker, `by="worker"`), promises whose family answered
    in [start, end): how many, kept, not kept, repaired among those not
    kept, and the number of distinct families behind them (for k)."""
    group = Promise.team_id if by == "team" else Promise.worker_id
    rows = session.execute(
        select(
            group,
            func.count(distinct(Promise.respondent_id)),
            func.count(),
            func.sum(case((Promise.outcome == "yes", 1), else_=0)),
            func.sum(case((Promise.outcome == "no", 1), else_=0)),
            func.sum(case((and_(Promise.outcome == "no", Promise.repaired.is_(True)), 1), else_=0)),
            func.sum(case((Promise.outcome == "unsure", 1), else_=0)),
        )
        .where(
            Promise.outcome.is_not(None),
            Promise.answered_at >= start,
            Promise.answered_at < end,
        )
        .group_by(group)
        .order_by(group)
    ).all()
    return [PromiseCounts(*(int(v or 0) for v in r)) for r in rows]


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


@dataclass(frozen=True, slots=True)
class ContinuityCounts:
    team_id: int
    changes: int
    """Worker changes in the window: 0, 1, 2, or 3 meaning three or more."""
    families: int


def continuity_figures(
    session: Session, since: datetime, until: datetime
) -> list[ContinuityCounts]:
    """Per team: families (cases with a family) by how many times their
    worker changed in [since, until), from the case records. A family whose
    case never changed counts under 0."""
    per_case = (
        select(CaseChange.invite_id, func.count().label("n"))
        .where(CaseChange.at >= since, CaseChange.at < until)
        .group_by(CaseChange.invite_id)
        .subquery()
    )
    bucket = case((func.coalesce(per_case.c.n, 0) >= 3, 3), else_=func.coalesce(per_case.c.n, 0))
    rows = session.execute(
        select(Invite.team_id, bucket, func.count(distinct(Respondent.id)))
        .join(Respondent, Respondent.invite_id == Invite.id)
        .outerjoin(per_case, per_case.c.invite_id == Invite.id)
        .where(Invite.created_at < until)
        .group_by(Invite.team_id, bucket)
        .order_by(Invite.team_id, bucket)
    ).all()
    return [ContinuityCounts(int(r[0]), int(r[1]), int(r[2])) for r in rows]


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
) -> int:
    result = session.execute(
        insert(YouSaid).values(
            team_id=team_id, text=text, families=families, actor=actor, created_at=now
        )
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


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
class YouSaidCounts:
    team_id: int
    changes: int
    """"You said" messages sent in the period."""
    families_after: int
    """Distinct families who answered "listened_to" after the team's first
    message of the period."""
    listened: int
    """Of those, how many said yes."""


def you_said_figures(
    session: Session, start: datetime, end: datetime, *, question_id: str = "listened_to"
) -> list[YouSaidCounts]:
    """Per team: the changes made (you-said messages) in [start, end), and
    of the families who answered the listened-to question after the first
    of them in the period, how many felt listened to."""
    first = (
        select(
            YouSaid.team_id,
            func.count().label("changes"),
            func.min(YouSaid.created_at).label("first_at"),
        )
        .where(YouSaid.created_at >= start, YouSaid.created_at < end)
        .group_by(YouSaid.team_id)
        .subquery()
    )
    after = and_(
        Answer.team_id == first.c.team_id,
        Answer.question_id == question_id,
        Answer.answered_at > first.c.first_at,
        Answer.answered_at < end,
    )
    rows = session.execute(
        select(
            first.c.team_id,
            first.c.changes,
            func.count(distinct(Answer.respondent_id)),
            func.count(distinct(case((Answer.code == "yes", Answer.respondent_id)))),
        )
        .outerjoin(Answer, after)
        .group_by(first.c.team_id, first.c.changes)
        .order_by(first.c.team_id)
    ).all()
    return [YouSaidCounts(*(int(v or 0) for v in r)) for r in rows]
