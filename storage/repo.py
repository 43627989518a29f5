"""Repository functions: the only code that reads and writes Heard's tables.

Each takes an open `Session` inside the caller's transaction, so the service
can make one inbound message one transaction. Hot-path writes use single
statements (INSERT … ON CONFLICT) rather than read-then-write, which keeps
them correct under concurrent processes and cheap on SQLite.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.errors import ConflictError
from storage import erasure, prepared
from storage.models import (
    Answer,
    AuditEntry,
    Base,
    Contact,
    Conversation,
    DigestComment,
    FollowUp,
    Invite,
    OutboxMessage,
    ProcessedInbound,
    Promise,
    Respondent,
    SafeguardingAlert,
    SetAsideInbound,
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
    tables with parameters supplied at execution, and run through
    `storage.prepared` (compiled once, executed on the driver's cursor)."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    processed: Table = ProcessedInbound.__table__  # type: ignore[assignment]
    answers: Table = Answer.__table__  # type: ignore[assignment]
    convs: Table = Conversation.__table__  # type: ignore[assignment]
    resp: Table = Respondent.__table__  # type: ignore[assignment]
    conv_ins = ins(convs)
    fu: Table = FollowUp.__table__  # type: ignore[assignment]
    fu_ins = ins(fu)
    outbox: Table = OutboxMessage.__table__  # type: ignore[assignment]
    load = (
        select(
            resp.c.id,
            resp.c.team_id,
            resp.c.worker_id,
            resp.c.invite_id,
            resp.c.status,
            convs.c.state,
        )
        .select_from(resp.outerjoin(convs, convs.c.respondent_id == resp.c.id))
        .where(resp.c.pseudonym == bindparam("pseudonym"))
    )
    return {
        "reply": insert(outbox).returning(outbox.c.id),
        "behind": select(outbox.c.id)
        .where(
            outbox.c.address == bindparam("address"),
            outbox.c.platform == bindparam("platform"),
            (outbox.c.status == "pending")
            | ((outbox.c.status == "claimed") & (outbox.c.claimed_by != bindparam("owner"))),
        )
        .limit(1),
        "mark": ins(processed).on_conflict_do_nothing().returning(processed.c.message_key),
        "answer": ins(answers).on_conflict_do_nothing().returning(answers.c.id),
        "state": conv_ins.on_conflict_do_update(
            index_elements=[convs.c.respondent_id],
            set_={"state": conv_ins.excluded.state, "updated_at": conv_ins.excluded.updated_at},
        ),
        "schedule": fu_ins.on_conflict_do_update(
            index_elements=[fu.c.respondent_id, fu.c.key],
            set_={
                "status": "pending",
                "due_at": fu_ins.excluded.due_at,
                "claimed_by": None,
                "lease_until": None,
            },
            where=fu.c.status == "cancelled",
        ),
        "load": load,
        # PostgreSQL: the row lock that serialises one chat's messages, taken
        # by the same statement that reads the conversation.
        "load_locked": load.with_for_update(of=resp) if dialect == "postgresql" else load,
    }


@cache
def _cancelling(dialect: str, kinds: int) -> dict[str, Any]:
    """The hot statements that cancel a family's follow-ups and waiting
    messages of `kinds` given kinds (every kind when 0)."""
    fu, o = _table(FollowUp), _table(OutboxMessage)
    kind_binds: list[Any] = [bindparam(f"kind{i}") for i in range(kinds)]
    cancel_fu = update(fu).where(
        fu.c.respondent_id == bindparam("rid"),
        (fu.c.status == "pending") | (fu.c.status == "claimed"),
    )
    cancel_out = update(o).where(o.c.respondent_id == bindparam("rid"), o.c.status == "pending")
    if kinds:
        cancel_fu = cancel_fu.where(fu.c.kind.in_(kind_binds))
        cancel_out = cancel_out.where(o.c.kind.in_(kind_binds))
    return {
        "followups": cancel_fu.values(status="cancelled"),
        "outbox": cancel_out.values(status="cancelled"),
    }


_INSERTS = frozenset({"reply", "mark", "answer", "state", "schedule"})
_prepared: dict[tuple[str, str, str, tuple[str, ...]], prepared.Prepared] = {}


def _statement(conn: Connection, name: str, keys: tuple[str, ...]) -> prepared.Prepared:
    """The named hot statement compiled for `conn`'s dialect (once). `name` is
    a key of `_hot`, or "followups:N" / "outbox:N" of `_cancelling`; an
    INSERT is compiled for the columns in `keys`."""
    dialect = conn.dialect
    key = (dialect.name, dialect.driver, name, keys)
    stmt = _prepared.get(key)
    if stmt is None:
        which, _, kinds = name.partition(":")
        source = _cancelling(dialect.name, int(kinds))[which] if kinds else _hot(dialect.name)[name]
        stmt = prepared.Prepared(source, dialect, keys or None)
        _prepared[key] = stmt
    return stmt


def _run(session: Session, name: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Execute a hot statement in the session's transaction; its first row."""
    conn, driver = prepared.driver_of(session)
    keys = tuple(params) if name in _INSERTS else ()
    return prepared.first(conn, driver, _statement(conn, name, keys), params)


def _run_count(session: Session, name: str, params: dict[str, Any]) -> int:
    """Execute a hot statement in the session's transaction; rows changed."""
    conn, driver = prepared.driver_of(session)
    keys = tuple(params) if name in _INSERTS else ()
    return prepared.count(conn, driver, _statement(conn, name, keys), params)


def _core(session: Session, stmt: Any) -> Result[Any]:
    """Execute a Core statement on the session's connection: no ORM
    bookkeeping (autoflush, synchronising loaded objects), for writes on the
    per-message path that touch no object the session holds."""
    return prepared.connection_of(session).execute(stmt)


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# -- inbound dedupe -----------------------------------------------------------


def mark_processed(session: Session, platform: str, key: str, now: datetime) -> bool:
    """Record a delivery id; False if it was already recorded (a redelivery)."""
    params = {"platform": platform, "message_key": key, "processed_at": now}
    return _run(session, "mark", params) is not None


def set_aside_inbound(
    session: Session, platform: str, error: str, attempts: int, alerted: bool, now: datetime
) -> None:
    """Record that one inbound message was skipped after `attempts` refusals."""
    session.add(
        SetAsideInbound(
            platform=platform,
            error=error[:64],
            attempts=attempts,
            alerted=alerted,
            set_aside_at=now,
        )
    )


def set_aside_counts(session: Session) -> list[tuple[str, str, int]]:
    """(platform, error, count) of set-aside messages, for administrators."""
    t = _table(SetAsideInbound)
    rows = session.execute(
        select(t.c.platform, t.c.error, func.count()).group_by(t.c.platform, t.c.error)
    )
    return [(str(p), str(e), int(n)) for p, e, n in rows]


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
    """Raises ConflictError when the team already has a worker of that name."""
    worker = Worker(
        team_id=team.id, name=name, slack_user_id=slack_user_id, active=True, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(worker)
            session.flush()
    except IntegrityError:
        raise ConflictError(f"team {team.name!r} already has a worker called {name!r}") from None
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


def add_invite(session: Session, invite: Invite) -> bool:
    """Store a new invite; False (and nothing stored) when its token or code
    is taken already."""
    try:
        with session.begin_nested():
            session.add(invite)
            session.flush()
    except IntegrityError:
        return False
    return True


def invite_by_token(session: Session, token: str) -> Invite | None:
    return session.scalars(select(Invite).where(Invite.token == token)).first()


def invite_by_code(session: Session, code: str) -> Invite | None:
    return session.scalars(select(Invite).where(Invite.code == code)).first()


def claim_invite(session: Session, invite_id: int, now: datetime) -> bool:
    """Mark an invite used; False if someone else used it first."""
    result = session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.used_at.is_(None), Invite.used.is_(False))
        .values(used_at=now, used=True)
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


def respondent_with_state(
    session: Session, pseudonym: str, *, lock: bool = False
) -> RespondentRow | None:
    """The respondent and their conversation state. With `lock`, also what
    `lock_respondent` does, in the same statement."""
    row = _run(session, "load_locked" if lock else "load", {"pseudonym": pseudonym})
    return None if row is None else RespondentRow(*row)


def create_respondent(
    session: Session,
    *,
    pseudonym: str,
    platform: str,
    invite: Invite,
    now: datetime,
) -> int:
    result = _core(
        session,
        insert(Respondent).values(
            pseudonym=pseudonym,
            platform=platform,
            team_id=invite.team_id,
            worker_id=invite.worker_id,
            invite_id=invite.id,
            status="active",
            created_at=now,
        ),
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


def rebind_respondent(session: Session, respondent_id: int, invite: Invite) -> None:
    _core(
        session,
        update(Respondent)
        .where(Respondent.id == respondent_id)
        .values(team_id=invite.team_id, worker_id=invite.worker_id, invite_id=invite.id),
    )


def set_status(session: Session, respondent_id: int, status: str) -> None:
    session.execute(update(Respondent).where(Respondent.id == respondent_id).values(status=status))


def save_contact(
    session: Session, respondent_id: int, platform: str, address: str, now: datetime
) -> None:
    stmt = _insert(session, Contact).values(
        respondent_id=respondent_id, platform=platform, address=address, updated_at=now
    )
    _core(
        session,
        stmt.on_conflict_do_update(
            index_elements=["respondent_id"],
            set_={"platform": platform, "address": address, "updated_at": now},
        ),
    )


def contact_of(session: Session, respondent_id: int) -> tuple[str, str] | None:
    row = session.execute(
        select(Contact.platform, Contact.address).where(Contact.respondent_id == respondent_id)
    ).first()
    return (row[0], row[1]) if row else None


def save_state(session: Session, respondent_id: int, state: dict[str, Any], now: datetime) -> None:
    params = {"respondent_id": respondent_id, "state": state, "updated_at": now}
    _run_count(session, "state", params)


# -- answers ------------------------------------------------------------------


def add_answer(session: Session, **values: Any) -> bool:
    """Store an answer once; a second copy of the same (respondent, round,
    question) is ignored and returns False."""
    return _run(session, "answer", values) is not None


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
    params = {
        "respondent_id": respondent_id,
        "kind": kind,
        "key": key,
        "due_at": due_at,
        "status": "pending",
        "created_at": now,
        "attempts": 0,
    }
    _run_count(session, "schedule", params)


def cancel_followups(session: Session, respondent_id: int, kinds: tuple[str, ...] = ()) -> int:
    """Cancel a family's follow-ups of `kinds` (every kind when empty), and the
    messages to them of those kinds still waiting in the outbox, so nothing
    already queued goes out after stop, a finished survey or a block. A
    message being sent at this very moment is not recalled. Returns how many
    follow-ups were cancelled."""
    params = _kind_params(respondent_id, kinds)
    count = _run_count(session, f"followups:{len(kinds)}", params)
    _run_count(session, f"outbox:{len(kinds)}", params)
    return count


def _kind_params(respondent_id: int, kinds: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {"rid": respondent_id}
    params.update((f"kind{i}", k) for i, k in enumerate(kinds))
    return params


# -- erasure and audit -----------------------------------------------------------


ERASED_TABLES = (
    "answers",
    "followups",
    "outbox",
    "conversations",
    "contacts",
    "promises",
    "safeguarding_alerts",
    "invites",
    "respondents",
    "processed_inbound",
)
"""Tables an erasure deletes from or rewrites, scrubbed after it
(`storage.erasure`). processed_inbound holds no link to the family but was
written by their messages, so its pages go through the scrub as well."""


def day_of(at: datetime) -> datetime:
    """The start of `at`'s UTC day: what is kept of a time that could
    otherwise be matched to an erased family's other traces."""
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def erase_respondent(session: Session, respondent_id: int, now: datetime) -> None:
    """Delete every row that belongs to one person. Explicit deletes rather
    than relying on cascades, so the guarantee holds on every backend.

    What stays, for the record of the case and the duty team, loses what a
    time join could use: the card's `used_at` (the card stays single-use),
    and the exact times of their alerts and promise answers (kept to the day,
    so periods still count them). The tables are then queued for scrubbing."""
    session.execute(
        delete(DigestComment).where(
            DigestComment.answer_id.in_(
                select(Answer.id).where(Answer.respondent_id == respondent_id)
            )
        )
    )
    for model in (Answer, FollowUp, OutboxMessage, Conversation, Contact):
        session.execute(delete(model).where(model.respondent_id == respondent_id))
    invite_id = session.scalar(select(Respondent.invite_id).where(Respondent.id == respondent_id))
    if invite_id is not None:
        session.execute(
            update(Invite).where(Invite.id == invite_id).values(used_at=None, used=True)
        )
    # A promise's counted outcome stays, to the day; its case, the family and
    # the words go.
    for promise in session.scalars(
        select(Promise).where(Promise.respondent_id == respondent_id)
    ).all():
        promise.respondent_id = None
        promise.invite_id = None
        promise.text = ""
        promise.asked_at = promise.asked_at and day_of(promise.asked_at)
        promise.answered_at = promise.answered_at and day_of(promise.answered_at)
    pseud = session.scalar(select(Respondent.pseudonym).where(Respondent.id == respondent_id))
    which = SafeguardingAlert.respondent_id == respondent_id
    if pseud is not None:
        which = or_(which, SafeguardingAlert.pseudonym == pseud)
    _erase_alerts(session, which)
    session.execute(delete(Respondent).where(Respondent.id == respondent_id))
    session.flush()
    erasure.request(session, ERASED_TABLES, now)


def _erase_alerts(session: Session, which: Any) -> None:
    alerts = list(session.scalars(select(SafeguardingAlert).where(which)))
    # An alert still on its way to the duty team is kept whole: their safety
    # comes first (`alert_delivered` clears it once it has gone). Copies
    # already delivered lose the family's words and their exact times.
    _forget_alert_copies(session, [a.id for a in alerts])
    for alert in alerts:
        alert.erased = True
        # The delivery that raised it is still remembered (for redeliveries)
        # with the time it came: that time goes to the day as well.
        platform, _, key = (alert.delivery_key or "").partition(":")
        if key:
            delivery = session.get(ProcessedInbound, (platform, key))
            if delivery is not None:
                delivery.processed_at = day_of(delivery.processed_at)
        alert.respondent_id = None
        alert.text = None
        alert.team_id = None
        alert.worker_id = None
        alert.invite_id = None
        alert.pseudonym = None
        alert.at = day_of(alert.at)
        if alert.status == "acknowledged":
            # An open alert keeps its send times: the chase needs them.
            alert.last_sent_at = alert.last_sent_at and day_of(alert.last_sent_at)
            alert.delivered_at = alert.delivered_at and day_of(alert.delivered_at)
            alert.acknowledged_at = alert.acknowledged_at and day_of(alert.acknowledged_at)
    session.flush()


def audit(session: Session, actor: str, action: str, detail: dict[str, Any], now: datetime) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, detail=detail))


# -- follow-up sweep --------------------------------------------------------------
#
# Claiming follows one pattern for follow-ups and outbox rows alike: in one
# statement, take rows that are due (or whose claim expired because the
# process that held it died) and mark them claimed by this process until
# `lease_until`. On PostgreSQL the candidate rows are selected FOR UPDATE SKIP
# LOCKED, so concurrent processes each get different rows and never wait for
# one another; SQLite has one writer at a time and needs no row locks.


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _claim(
    session: Session,
    table: Table,
    pick: Any,
    values: dict[str, Any],
    returning: Sequence[Any],
    lock: Sequence[Table] = (),
) -> list[Any]:
    if _is_postgres(session):
        due = pick.with_for_update(skip_locked=True, of=[table, *lock]).cte("due")
        stmt = update(table).where(table.c.id == due.c.id)
    else:
        stmt = update(table).where(table.c.id.in_(pick.scalar_subquery()))
    return list(session.execute(stmt.values(**values).returning(*returning)))


@dataclass(frozen=True, slots=True)
class DueFollowUp:
    id: int
    respondent_id: int
    kind: str
    due_at: datetime
    attempts: int = 1
    """Runs so far, this one included."""


def claim_followups(
    session: Session,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    kinds: tuple[str, ...] = (),
) -> list[DueFollowUp]:
    """Claim up to `limit` due follow-ups, oldest first (see the pattern above).

    On PostgreSQL the family's respondent row is locked too, in the same
    statement and with the same SKIP LOCKED: a family whose own message is
    being handled right now (which holds that lock) is left for the next
    sweep, so a follow-up and a message never interleave, and the sweep never
    waits for a lock an inbound message holds (which could deadlock).
    `kinds` limits the claim to those kinds (all when empty)."""
    f, r = _table(FollowUp), _table(Respondent)
    values = {
        "status": "claimed",
        "claimed_by": owner,
        "lease_until": lease_until,
        "attempts": f.c.attempts + 1,
    }
    cols = (f.c.id, f.c.respondent_id, f.c.kind, f.c.due_at, f.c.attempts)
    rows: list[Any] = []
    for claimable in _claimable(f.c.status, f.c.lease_until, f.c.due_at <= now, now):
        if len(rows) >= limit:
            break
        pick = (
            select(f.c.id)
            .join(r, r.c.id == f.c.respondent_id)
            .where(claimable, *([f.c.kind.in_(kinds)] if kinds else []))
            .order_by(f.c.due_at, f.c.id)
            .limit(limit - len(rows))
        )
        rows += _claim(session, f, pick, values, cols, lock=(r,))
    return sorted((DueFollowUp(*row) for row in rows), key=lambda d: (d.due_at, d.id))


def _claimable(status: Any, lease_until: Any, due: Any, now: datetime) -> tuple[Any, Any]:
    """Claims that expired (their process died), then rows that are due: two
    statements rather than one with OR, so each walks its own index."""
    return (
        and_(status == "claimed", lease_until <= now),
        and_(status == "pending", due),
    )


def finish_followups(session: Session, ids: Collection[int], status: str) -> None:
    """Mark claimed follow-ups "done" (their messages are in the outbox),
    "cancelled" (nothing was due to be said) or "failed" (raised too often)."""
    if ids:
        session.execute(
            update(FollowUp)
            .where(FollowUp.id.in_(ids))
            .values(status=status, claimed_by=None, lease_until=None)
        )


def respondents_with_closed_case(session: Session, ids: Collection[int]) -> set[int]:
    if not ids:
        return set()
    stmt = (
        select(Respondent.id)
        .join(Invite, Invite.id == Respondent.invite_id)
        .where(Respondent.id.in_(ids), Invite.closed_at.is_not(None))
    )
    return set(session.scalars(stmt))


def _kind_status_counts(
    session: Session, model: type[FollowUp] | type[OutboxMessage]
) -> list[tuple[str, str, int]]:
    stmt = (
        select(model.kind, model.status, func.count())
        .group_by(model.kind, model.status)
        .order_by(model.kind, model.status)
    )
    return [(k, st, int(n)) for k, st, n in session.execute(stmt)]


def followup_counts(session: Session) -> list[tuple[str, str, int]]:
    """(kind, status, count) for every follow-up, for administrators."""
    return _kind_status_counts(session, FollowUp)


def next_followup_due(session: Session) -> datetime | None:
    return session.scalar(select(func.min(FollowUp.due_at)).where(FollowUp.status == "pending"))


# -- outbox -------------------------------------------------------------------------

URGENT_KINDS = frozenset({"alert"})
"""Kinds that overtake everything else waiting in the outbox."""
URGENT, NORMAL = 0, 1


class ChoiceLike(Protocol):
    @property
    def data(self) -> str: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OutboundRow:
    """A claimed outbox row, as the sender needs it."""

    id: int
    platform: str
    address: str
    text: str
    choices: tuple[tuple[str, str], ...]
    columns: int
    kind: str
    ref: str | None
    attempts: int
    """How many times it has been claimed, this time included."""


def _choice_pair(choice: tuple[str, str] | ChoiceLike) -> list[str]:
    if isinstance(choice, tuple):
        return [str(choice[0]), str(choice[1])]
    return [choice.data, choice.label]


def outbound_row(
    *,
    platform: str,
    address: str,
    text: str,
    choices: Iterable[tuple[str, str] | ChoiceLike] = (),
    columns: int = 1,
    kind: str,
    ref: str | int | None = None,
    respondent_id: int | None = None,
    now: datetime,
    priority: int | None = None,
) -> dict[str, Any]:
    """The values of one new outbox row (see `enqueue_outbound`)."""
    if priority is None:
        priority = URGENT if kind in URGENT_KINDS else NORMAL
    return {
        "platform": platform,
        "address": address,
        "respondent_id": respondent_id,
        "text": text,
        "choices": [_choice_pair(c) for c in choices],
        "columns": columns,
        "kind": kind,
        "ref": None if ref is None else str(ref),
        "priority": priority,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue_outbound(
    session: Session,
    *,
    platform: str,
    address: str,
    text: str,
    choices: Iterable[tuple[str, str] | ChoiceLike] = (),
    columns: int = 1,
    kind: str,
    ref: str | int | None = None,
    respondent_id: int | None = None,
    now: datetime,
    priority: int | None = None,
) -> int:
    """Queue one message in the caller's transaction; returns its id.

    `address` is the raw chat/channel id on `platform`. Set `respondent_id`
    only for a message *to* that family: it is then cancelled by their stop,
    deleted by their erasure or case closure. A message *about* a family to
    staff (an alert) must leave it None, so nothing the family does can hold
    it back. `priority` defaults to URGENT for URGENT_KINDS, else NORMAL;
    lower goes first. Messages to one address go out in the order queued.
    """
    o = _table(OutboxMessage)
    values = outbound_row(
        platform=platform,
        address=address,
        text=text,
        choices=choices,
        columns=columns,
        kind=kind,
        ref=ref,
        respondent_id=respondent_id,
        now=now,
        priority=priority,
    )
    return int(session.execute(insert(o).values(**values).returning(o.c.id)).scalar_one())


def enqueue_outbound_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Queue many messages (values from `outbound_row`) in one statement, in
    order: messages to one address go out in the order given."""
    if rows:
        session.connection().execute(insert(_table(OutboxMessage)), list(rows))


REPLY_KIND = "reply"
HIDE_KIND = "hide"
"""Outbox kinds of the replies to a family's own message (`queue_replies`)."""


def chat_is_behind(session: Session, platform: str, address: str, owner: str) -> bool:
    """True if a message to this chat is still waiting in the outbox (pending,
    or claimed by another process): a new reply must then queue behind it
    rather than overtake it. One indexed probe (`ix_outbox_address`)."""
    return (
        _run(session, "behind", {"platform": platform, "address": address, "owner": owner})
        is not None
    )


def queue_replies(
    session: Session,
    rows: Sequence[dict[str, Any]],
    *,
    owner: str | None,
    lease_until: datetime,
) -> list[int]:
    """Queue the replies to an inbound message (values from `outbound_row`) in
    the caller's transaction and return their ids, in order. With `owner`
    they are stored already claimed by that process, under a lease, for it
    to send at once after the commit (the normal path); if it dies first the
    lease runs out and any sender takes them over. With None they wait as
    pending for the sender to claim in turn."""
    if not rows:
        return []
    values = [
        dict(r, status="claimed", claimed_by=owner, lease_until=lease_until, attempts=1)
        if owner is not None
        else r
        for r in rows
    ]
    ids = []
    for v in values:
        row = _run(session, "reply", v)
        assert row is not None
        ids.append(int(row[0]))
    return ids


def count_sendable(
    session: Session,
    *,
    now: datetime,
    platforms: Collection[str],
    held_kinds: Collection[str] = (),
    cap: int,
) -> int:
    """How many outbox messages on `platforms` could go now (counting at most
    `cap`, so the answer stays cheap however long the queue)."""
    if not platforms:
        return 0
    o = _table(OutboxMessage)
    pick = select(o.c.id).where(
        o.c.status == "pending", o.c.next_attempt_at <= now, o.c.platform.in_(platforms)
    )
    if held_kinds:
        pick = pick.where(o.c.kind.not_in(held_kinds))
    return int(session.scalar(select(func.count()).select_from(pick.limit(cap).subquery())) or 0)


def claim_outbound(
    session: Session,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    platforms: Collection[str],
    held_kinds: Collection[str] = (),
    exclude: Collection[int] = (),
) -> list[OutboundRow]:
    """Claim up to `limit` messages that may go now, most urgent and oldest
    first, on the given platforms, leaving `held_kinds` (e.g. family kinds in
    quiet hours) alone. A message is only taken when no earlier message to the
    same address is still waiting or in flight, in any process: so messages
    to one chat keep their order even across processes and retries, and a
    chat never has two of Heard's messages in flight at once. `exclude`: rows
    already updated in this transaction (a second update of a row would make
    PostgreSQL re-check its foreign key, a lock that can wait)."""
    if not platforms or limit <= 0:
        return []
    o = _table(OutboxMessage)
    earlier = o.alias("earlier")
    earlier_waiting = (
        exists()
        .where(
            earlier.c.platform == o.c.platform,
            earlier.c.address == o.c.address,
            earlier.c.id < o.c.id,
            earlier.c.status.in_(("pending", "claimed")),
        )
        .correlate(o)
    )
    values = {
        "status": "claimed",
        "claimed_by": owner,
        "lease_until": lease_until,
        "attempts": o.c.attempts + 1,
    }
    cols = (
        o.c.id,
        o.c.platform,
        o.c.address,
        o.c.text,
        o.c.choices,
        o.c.columns,
        o.c.kind,
        o.c.ref,
        o.c.attempts,
        o.c.priority,
        o.c.next_attempt_at,
    )
    rows: list[Any] = []
    for claimable in _claimable(o.c.status, o.c.lease_until, o.c.next_attempt_at <= now, now):
        if len(rows) >= limit:
            break
        pick = select(o.c.id).where(claimable, o.c.platform.in_(platforms), ~earlier_waiting)
        if held_kinds:
            pick = pick.where(o.c.kind.not_in(held_kinds))
        if exclude:
            pick = pick.where(o.c.id.not_in(exclude))
        pick = pick.order_by(o.c.priority, o.c.next_attempt_at, o.c.id).limit(limit - len(rows))
        rows += _claim(session, o, pick, values, cols)
    rows.sort(key=lambda r: (r[9], r[10], r[0]))
    return [
        OutboundRow(
            id=int(r[0]),
            platform=r[1],
            address=r[2],
            text=r[3],
            choices=tuple((str(c[0]), str(c[1])) for c in (r[4] or ())),
            columns=int(r[5]),
            kind=r[6],
            ref=r[7],
            attempts=int(r[8]),
        )
        for r in rows
    ]


def mark_outbound_sent(
    session: Session, owner: str, sent: Sequence[tuple[int, str]], now: datetime
) -> None:
    """Record (outbox id, platform message id) pairs as sent, if still ours."""
    if not sent:
        return
    o = _table(OutboxMessage)
    stmt = (
        update(o)
        .where(
            o.c.id == bindparam("oid"),
            o.c.claimed_by == owner,
            o.c.status == "claimed",
        )
        .values(
            status="sent",
            platform_message_id=bindparam("mid"),
            sent_at=now,
            lease_until=None,
            last_error=None,
        )
    )
    session.connection().execute(stmt, [{"oid": oid, "mid": mid[:64]} for oid, mid in sent])


def renew_outbound(
    session: Session, owner: str, ids: Collection[int], lease_until: datetime
) -> None:
    """Extend this owner's lease on messages it is still sending or waiting
    to send, so a slow send (pacing, a busy machine) never outlives its claim
    and is taken over and sent a second time by another process."""
    if not ids:
        return
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.claimed_by == owner,
            OutboxMessage.status == "claimed",
        )
        .values(lease_until=lease_until)
    )


def retry_outbound(session: Session, owner: str, outbox_id: int, at: datetime, error: str) -> None:
    """Give a claimed message back to be tried again at `at`."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.claimed_by == owner,
            OutboxMessage.status == "claimed",
        )
        .values(
            status="pending",
            next_attempt_at=at,
            claimed_by=None,
            lease_until=None,
            last_error=error[:64],
        )
    )


def fail_outbound(session: Session, owner: str, outbox_id: int, error: str) -> None:
    """Give up on a claimed message for good."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.claimed_by == owner,
            OutboxMessage.status == "claimed",
        )
        .values(status="failed", lease_until=None, last_error=error[:64])
    )


def release_outbound(session: Session, owner: str, ids: Collection[int] | None = None) -> int:
    """Give claimed, unsent messages back at once (`ids`, or all this owner
    holds when None), so nobody need wait for the lease to expire."""
    if ids is not None and not ids:
        return 0
    stmt = update(OutboxMessage).where(
        OutboxMessage.claimed_by == owner, OutboxMessage.status == "claimed"
    )
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    stmt = stmt.values(
        status="pending",
        claimed_by=None,
        lease_until=None,
        attempts=OutboxMessage.attempts - 1,
    )
    return _rowcount(session.execute(stmt))


def take_over_claims(session: Session) -> int:
    """Put every claimed message back to pending, whoever claimed it. Only for
    a single-instance database (SQLite) at start: no other process can be
    sending, so the claims are a dead process's, and waiting for their lease
    would hold up every chat they belong to."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == "claimed")
        .values(status="pending", claimed_by=None, lease_until=None)
    )
    return _rowcount(session.execute(stmt))


def cancel_outbound(session: Session, respondent_id: int, kinds: tuple[str, ...] = ()) -> int:
    """Cancel messages to one family still waiting in the outbox (of `kinds`,
    or every kind when empty)."""
    return _run_count(session, f"outbox:{len(kinds)}", _kind_params(respondent_id, kinds))


def prune_outbox(session: Session, before: datetime) -> int:
    """Delete finished outbox rows (sent, failed, cancelled) created before
    `before`: they hold raw addresses, which Heard keeps no longer than needed."""
    stmt = delete(OutboxMessage).where(
        OutboxMessage.status.in_(("sent", "failed", "cancelled")),
        OutboxMessage.created_at < before,
    )
    return _rowcount(session.execute(stmt))


def outbox_counts(session: Session) -> list[tuple[str, str, int]]:
    """(kind, status, count) for every outbox row, for administrators."""
    return _kind_status_counts(session, OutboxMessage)


def next_outbound_due(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == "pending")
    )


# -- cases ----------------------------------------------------------------------------
#
# An invite is a family's case (team, worker, question set, language). Closing
# it sets invites.closed_at: the invite can no longer be redeemed, and the
# families bound to it get no more follow-ups and lose their contact rows.


@dataclass(frozen=True, slots=True)
class CaseClosure:
    cases: int
    """Invites closed now (already closed ones are not counted again)."""
    followups_cancelled: int
    contacts_deleted: int


def open_case_ids(
    session: Session,
    *,
    invite_id: int | None = None,
    code: str | None = None,
    worker_id: int | None = None,
) -> list[int]:
    """Ids of the open invites matching one invite id, one code, or a worker."""
    stmt = select(Invite.id).where(Invite.closed_at.is_(None))
    if invite_id is not None:
        stmt = stmt.where(Invite.id == invite_id)
    if code is not None:
        stmt = stmt.where(Invite.code == code)
    if worker_id is not None:
        stmt = stmt.where(Invite.worker_id == worker_id)
    return list(session.scalars(stmt.order_by(Invite.id)))


def close_cases(session: Session, invite_ids: Collection[int], now: datetime) -> CaseClosure:
    """Close these cases: cancel the follow-ups of the families bound to them,
    delete their queued messages and their contact rows."""
    if not invite_ids:
        return CaseClosure(0, 0, 0)
    closed = _rowcount(
        session.execute(
            update(Invite)
            .where(Invite.id.in_(invite_ids), Invite.closed_at.is_(None))
            .values(closed_at=now)
        )
    )
    families = select(Respondent.id).where(Respondent.invite_id.in_(invite_ids))
    cancelled = _rowcount(
        session.execute(
            update(FollowUp)
            .where(
                FollowUp.respondent_id.in_(families),
                FollowUp.status.in_(("pending", "claimed")),
            )
            .values(status="cancelled", claimed_by=None, lease_until=None)
        )
    )
    session.execute(delete(OutboxMessage).where(OutboxMessage.respondent_id.in_(families)))
    contacts = _rowcount(
        session.execute(delete(Contact).where(Contact.respondent_id.in_(families)))
    )
    if closed or contacts:
        erasure.request(session, ("contacts", "outbox", "followups"), now)
    return CaseClosure(closed, cancelled, contacts)


# -- safeguarding alerts ------------------------------------------------------------


def add_alert(session: Session, **values: Any) -> SafeguardingAlert:
    alert = SafeguardingAlert(status="open", sends=0, **values)
    session.add(alert)
    session.flush()
    return alert


def alert_by_id(session: Session, alert_id: int) -> SafeguardingAlert | None:
    return session.get(SafeguardingAlert, alert_id)


def alert_by_delivery(session: Session, delivery_key: str) -> SafeguardingAlert | None:
    return session.scalars(
        select(SafeguardingAlert).where(SafeguardingAlert.delivery_key == delivery_key)
    ).first()


def open_review_alert(session: Session, pseudonym: str) -> SafeguardingAlert | None:
    """The family's newest "for review" alert that nobody has acknowledged."""
    return session.scalars(
        select(SafeguardingAlert)
        .where(
            SafeguardingAlert.pseudonym == pseudonym,
            SafeguardingAlert.level == "review",
            SafeguardingAlert.status == "open",
        )
        .order_by(SafeguardingAlert.id.desc())
        .limit(1)
    ).first()


def upgrade_alert(session: Session, alert: SafeguardingAlert) -> None:
    alert.level = "alert"


def erase_alert_words(session: Session, pseudonym: str, now: datetime) -> None:
    """Forget for a family that never used an invite: their alerts keep the
    fact, day and response, and lose their words and pseudonym."""
    _erase_alerts(session, SafeguardingAlert.pseudonym == pseudonym)
    erasure.request(session, ("safeguarding_alerts", "outbox", "processed_inbound"), now)


def alert_case(session: Session, alert: SafeguardingAlert) -> tuple[str | None, ...]:
    """(team name, worker name, invite code) of the alert's case, each None
    when the alert has no such link and "?" when the link points nowhere."""
    team = worker = code = None
    if alert.team_id is not None:
        t = session.get(Team, alert.team_id)
        team = t.name if t else "?"
    if alert.worker_id is not None:
        w = session.get(Worker, alert.worker_id)
        worker = w.name if w else "?"
    if alert.invite_id is not None:
        i = session.get(Invite, alert.invite_id)
        code = i.code if i else "?"
    return team, worker, code


def worker_slack_user(session: Session, worker_id: int) -> str | None:
    worker = session.get(Worker, worker_id)
    return worker.slack_user_id if worker else None


def alert_sent(session: Session, alert: SafeguardingAlert, now: datetime) -> None:
    alert.sends += 1
    alert.last_sent_at = now


def acknowledge_alert(session: Session, alert: SafeguardingAlert, who: str, now: datetime) -> bool:
    """Mark acknowledged; False when it already was."""
    if alert.status == "acknowledged":
        return False
    alert.status = "acknowledged"
    alert.acknowledged_by = who
    alert.acknowledged_at = now
    return True


def alerts_to_chase(session: Session, sent_before: datetime, limit: int = 100) -> list[Any]:
    """Open alerts last sent at or before `sent_before`, locked for this
    transaction (other processes skip them)."""
    return list(
        session.scalars(
            select(SafeguardingAlert)
            .where(
                SafeguardingAlert.status == "open",
                SafeguardingAlert.level == "alert",
                SafeguardingAlert.last_sent_at <= sent_before,
            )
            .order_by(SafeguardingAlert.id)
            .with_for_update(skip_locked=True)
            .limit(limit)
        ).all()
    )


def alert_delivered(session: Session, alert_id: int, message_id: str, now: datetime) -> None:
    """Record that an alert reached the duty team. If the family was erased
    while it was on its way, the copy now sent loses their words too."""
    erased = session.scalar(
        select(SafeguardingAlert.erased).where(SafeguardingAlert.id == alert_id)
    )
    session.execute(
        update(SafeguardingAlert)
        .where(SafeguardingAlert.id == alert_id, SafeguardingAlert.delivered_at.is_(None))
        .values(delivered_at=day_of(now) if erased else now, message_ref=message_id)
    )
    if erased and _forget_alert_copies(session, [alert_id]):
        erasure.request(session, ("outbox",), now)


ERASED_ALERT_TEXT = "(erased at the family's request)"


def _forget_alert_copies(session: Session, alert_ids: Collection[int]) -> int:
    """Give the sent copies of these alerts (to the duty team) no words of the
    family and only the day of their times; how many were changed."""
    if not alert_ids:
        return 0
    copies = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "alert",
            OutboxMessage.ref.in_([str(i) for i in alert_ids]),
            OutboxMessage.status.in_(("sent", "failed", "cancelled")),
            OutboxMessage.text != ERASED_ALERT_TEXT,
        )
    ).all()
    for copy in copies:
        copy.text = ERASED_ALERT_TEXT
        copy.created_at = day_of(copy.created_at)
        copy.next_attempt_at = day_of(copy.next_attempt_at)
        copy.sent_at = copy.sent_at and day_of(copy.sent_at)
    session.flush()
    return len(copies)


# -- respondents, by id ---------------------------------------------------------------


def lock_respondent(session: Session, pseudonym: str) -> None:
    """Serialise concurrent messages from one chat. PostgreSQL takes a row
    lock; SQLite's BEGIN IMMEDIATE already serialises every writer."""
    if _is_postgres(session):
        session.execute(
            select(Respondent.id).where(Respondent.pseudonym == pseudonym).with_for_update()
        )


def respondent_by_id(session: Session, respondent_id: int) -> Respondent | None:
    return session.get(Respondent, respondent_id)


def invite_by_id(session: Session, invite_id: int) -> Invite | None:
    return session.get(Invite, invite_id)


# -- pseudonym key rotation -------------------------------------------------------------


def reachable_respondents(session: Session) -> list[tuple[int, str, str]]:
    """(respondent id, platform, chat id) of every respondent whose contact
    is still held, locked until the transaction ends."""
    stmt = (
        select(Respondent.id, Respondent.platform, Contact.address)
        .join(Contact, Contact.respondent_id == Respondent.id)
        .order_by(Respondent.id)
        .with_for_update(of=Respondent)
    )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in session.execute(stmt)]


def count_respondents(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Respondent)) or 0)


def set_pseudonyms(session: Session, new: Sequence[tuple[int, str]]) -> None:
    """Give respondents new pseudonyms: (respondent id, pseudonym) pairs."""
    if not new:
        return
    r = _table(Respondent)
    stmt = update(r).where(r.c.id == bindparam("rid")).values(pseudonym=bindparam("p"))
    session.connection().execute(stmt, [{"rid": rid, "p": p} for rid, p in new])
