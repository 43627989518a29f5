"""Repository functions: the only code that reads and writes Heard's tables.

Each takes an open `Session` inside the caller's transaction, so the service
can make one inbound message one transaction. Hot-path writes use single
statements (INSERT … ON CONFLICT) rather than read-then-write, which keeps
them correct under concurrent processes and cheap on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    AuditEntry,
    Base,
    Contact,
    Conversation,
    FollowUp,
    Invite,
    ProcessedInbound,
    Respondent,
    Team,
    Worker,
)


def _insert(session: Session, model: type[Base]) -> Any:
    """A dialect-specific INSERT that supports ON CONFLICT DO NOTHING/UPDATE."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


@cache
def _hot(dialect: str) -> dict[str, Any]:
    """Statements on the per-message path, built once per dialect on plain
    tables with parameters supplied at execution. This skips the ORM's bulk
    machinery and lets SQLAlchemy reuse the compiled SQL every time."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    processed: Table = ProcessedInbound.__table__  # type: ignore[assignment]
    answers: Table = Answer.__table__  # type: ignore[assignment]
    convs: Table = Conversation.__table__  # type: ignore[assignment]
    resp: Table = Respondent.__table__  # type: ignore[assignment]
    conv_ins = ins(convs)
    return {
        "mark": ins(processed).on_conflict_do_nothing().returning(processed.c.message_key),
        "answer": ins(answers).on_conflict_do_nothing().returning(answers.c.id),
        "state": conv_ins.on_conflict_do_update(
            index_elements=[convs.c.respondent_id],
            set_={"state": conv_ins.excluded.state, "updated_at": conv_ins.excluded.updated_at},
        ),
        "load": select(
            resp.c.id,
            resp.c.team_id,
            resp.c.worker_id,
            resp.c.invite_id,
            resp.c.status,
            convs.c.state,
        )
        .select_from(resp.outerjoin(convs, convs.c.respondent_id == resp.c.id))
        .where(resp.c.pseudonym == bindparam("pseudonym")),
    }


def _run(session: Session, name: str, params: dict[str, Any]) -> Result[Any]:
    """Execute a hot statement on the session's connection (same transaction)."""
    conn = session.connection()
    return conn.execute(_hot(conn.dialect.name)[name], params)


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# -- inbound dedupe -----------------------------------------------------------


def mark_processed(session: Session, platform: str, key: str, now: datetime) -> bool:
    """Record a delivery id; False if it was already recorded (a redelivery)."""
    params = {"platform": platform, "message_key": key, "processed_at": now}
    return _run(session, "mark", params).first() is not None


def was_processed(session: Session, platform: str, key: str) -> bool:
    return session.get(ProcessedInbound, (platform, key)) is not None


# -- teams, workers, invites ----------------------------------------------------


def add_team(session: Session, name: str, now: datetime) -> Team:
    team = Team(name=name, created_at=now)
    session.add(team)
    session.flush()
    return team


def team_by_name(session: Session, name: str) -> Team | None:
    return session.scalars(select(Team).where(Team.name == name)).first()


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name)).all()


def add_worker(
    session: Session, team: Team, name: str, slack_user_id: str | None, now: datetime
) -> Worker:
    worker = Worker(
        team_id=team.id, name=name, slack_user_id=slack_user_id, active=True, created_at=now
    )
    session.add(worker)
    session.flush()
    return worker


def find_workers(session: Session, ref: str) -> Sequence[Worker]:
    """Workers matching an id, an exact name, or a Slack user id."""
    stmt = select(Worker).where(Worker.active.is_(True))
    if ref.isdigit():
        return session.scalars(stmt.where(Worker.id == int(ref))).all()
    by_name = session.scalars(stmt.where(Worker.name == ref)).all()
    if by_name:
        return by_name
    return session.scalars(stmt.where(Worker.slack_user_id == ref)).all()


def worker_by_slack_user(session: Session, slack_user_id: str) -> Worker | None:
    return session.scalars(
        select(Worker).where(Worker.slack_user_id == slack_user_id, Worker.active.is_(True))
    ).first()


def list_workers(session: Session) -> Sequence[tuple[Worker, Team]]:
    rows = session.execute(
        select(Worker, Team).join(Team, Team.id == Worker.team_id).order_by(Team.name, Worker.name)
    ).all()
    return [(w, t) for w, t in rows]


def add_invite(session: Session, invite: Invite) -> Invite:
    session.add(invite)
    session.flush()
    return invite


def invite_by_token(session: Session, token: str) -> Invite | None:
    return session.scalars(select(Invite).where(Invite.token == token)).first()


def invite_by_code(session: Session, code: str) -> Invite | None:
    return session.scalars(select(Invite).where(Invite.code == code)).first()


def claim_invite(session: Session, invite_id: int, now: datetime) -> bool:
    """Mark an invite used; False if someone else used it first."""
    result = session.execute(
        update(Invite).where(Invite.id == invite_id, Invite.used_at.is_(None)).values(used_at=now)
    )
    return bool(_rowcount(result))


# -- respondents and conversations ---------------------------------------------


@dataclass(frozen=True, slots=True)
class RespondentRow:
    id: int
    team_id: int
    worker_id: int
    invite_id: int | None
    status: str
    state: dict[str, Any] | None


def respondent_with_state(session: Session, pseudonym: str) -> RespondentRow | None:
    row = _run(session, "load", {"pseudonym": pseudonym}).first()
    if row is None:
        return None
    values: tuple[Any, ...] = tuple(row)
    return RespondentRow(*values)


def create_respondent(
    session: Session,
    *,
    pseudonym: str,
    platform: str,
    invite: Invite,
    now: datetime,
) -> int:
    result = session.execute(
        insert(Respondent).values(
            pseudonym=pseudonym,
            platform=platform,
            team_id=invite.team_id,
            worker_id=invite.worker_id,
            invite_id=invite.id,
            status="active",
            created_at=now,
        )
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


def rebind_respondent(session: Session, respondent_id: int, invite: Invite) -> None:
    session.execute(
        update(Respondent)
        .where(Respondent.id == respondent_id)
        .values(team_id=invite.team_id, worker_id=invite.worker_id, invite_id=invite.id)
    )


def set_status(session: Session, respondent_id: int, status: str) -> None:
    session.execute(update(Respondent).where(Respondent.id == respondent_id).values(status=status))


def save_contact(
    session: Session, respondent_id: int, platform: str, address: str, now: datetime
) -> None:
    stmt = _insert(session, Contact).values(
        respondent_id=respondent_id, platform=platform, address=address, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["respondent_id"],
            set_={"platform": platform, "address": address, "updated_at": now},
        )
    )


def contact_of(session: Session, respondent_id: int) -> tuple[str, str] | None:
    row = session.execute(
        select(Contact.platform, Contact.address).where(Contact.respondent_id == respondent_id)
    ).first()
    return (row[0], row[1]) if row else None


def save_state(session: Session, respondent_id: int, state: dict[str, Any], now: datetime) -> None:
    params = {"respondent_id": respondent_id, "state": state, "updated_at": now}
    _run(session, "state", params)


# -- answers ------------------------------------------------------------------


def add_answer(session: Session, **values: Any) -> bool:
    """Store an answer once; a second copy of the same (respondent, round,
    question) is ignored and returns False."""
    return _run(session, "answer", values).first() is not None


def answers_of(session: Session, respondent_id: int) -> Sequence[Answer]:
    return session.scalars(
        select(Answer).where(Answer.respondent_id == respondent_id).order_by(Answer.id)
    ).all()


def count_answers(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Answer)) or 0)


# -- follow-ups ---------------------------------------------------------------


def schedule_followup(
    session: Session, respondent_id: int, kind: str, key: str, due_at: datetime, now: datetime
) -> None:
    """Schedule once per key. A cancelled follow-up with the same key comes back
    to life; one already sent is never sent again."""
    stmt = _insert(session, FollowUp).values(
        respondent_id=respondent_id,
        kind=kind,
        key=key,
        due_at=due_at,
        status="pending",
        created_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["respondent_id", "key"],
        set_={"status": "pending", "due_at": due_at, "claimed_by": None, "lease_until": None},
        where=FollowUp.status == "cancelled",
    )
    session.execute(stmt)


def cancel_followups(session: Session, respondent_id: int, kinds: tuple[str, ...] = ()) -> int:
    stmt = update(FollowUp).where(
        FollowUp.respondent_id == respondent_id, FollowUp.status.in_(("pending", "claimed"))
    )
    if kinds:
        stmt = stmt.where(FollowUp.kind.in_(kinds))
    return _rowcount(session.execute(stmt.values(status="cancelled")))


# -- erasure and audit -----------------------------------------------------------


def erase_respondent(session: Session, respondent_id: int) -> None:
    """Delete every row that belongs to one person. Explicit deletes rather
    than relying on cascades, so the guarantee holds on every backend."""
    for model in (Answer, FollowUp, Conversation, Contact):
        session.execute(delete(model).where(model.respondent_id == respondent_id))
    session.execute(delete(Respondent).where(Respondent.id == respondent_id))


def audit(session: Session, actor: str, action: str, detail: dict[str, Any], now: datetime) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, detail=detail))
