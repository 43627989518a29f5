"""Digest statements: the durable digest rows (planned once by key, claimed
with a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL), the comments on their
way to a digest, and the few counts a digest needs beyond the report cells.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    Digest,
    DigestComment,
    Manager,
    SafeguardingAlert,
    Team,
    Worker,
)
from storage.repo import _claim, _claimable, _insert, _table


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A worker as a digest needs them."""

    id: int
    name: str
    team_id: int
    team: str
    slack_user: str | None
    telegram_chat: str | None
    digests_off: bool


def _member(worker: Worker, team: Team) -> StaffMember:
    return StaffMember(
        worker.id,
        worker.name,
        worker.team_id,
        team.name,
        worker.slack_user_id,
        worker.telegram_chat,
        bool(worker.digests_off),
    )


def workers(session: Session) -> list[StaffMember]:
    rows = session.execute(
        select(Worker, Team)
        .join(Team, Team.id == Worker.team_id)
        .where(Worker.active.is_(True))
        .order_by(Worker.id)
    )
    return [_member(w, t) for w, t in rows]


def worker(session: Session, worker_id: int) -> StaffMember | None:
    row = session.execute(
        select(Worker, Team).join(Team, Team.id == Worker.team_id).where(Worker.id == worker_id)
    ).first()
    return _member(row[0], row[1]) if row else None


def worker_by_slack(session: Session, slack_user: str) -> StaffMember | None:
    row = session.execute(
        select(Worker, Team)
        .join(Team, Team.id == Worker.team_id)
        .where(Worker.slack_user_id == slack_user, Worker.active.is_(True))
    ).first()
    return _member(row[0], row[1]) if row else None


def set_telegram_chat(session: Session, worker_id: int, chat: str | None) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(telegram_chat=chat))


def set_digests_off(session: Session, worker_id: int, off: bool) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(digests_off=off))


def managers(session: Session) -> dict[str, list[int]]:
    """Slack user -> the ids of the teams they manage."""
    out: dict[str, list[int]] = {}
    for user, team in session.execute(
        select(Manager.slack_user_id, Manager.team_id).order_by(
            Manager.slack_user_id, Manager.team_id
        )
    ):
        out.setdefault(str(user), []).append(int(team))
    return out


def team_managers(session: Session, team_id: int) -> list[str]:
    rows = session.execute(
        select(Manager.slack_user_id).where(Manager.team_id == team_id).order_by(Manager.id)
    )
    return [str(u) for (u,) in rows]


def staff_names(session: Session) -> list[str]:
    """Every worker's and manager's name, for the scrubber."""
    names = [str(n) for (n,) in session.execute(select(Worker.name))]
    names += [str(n) for (n,) in session.execute(select(Manager.name)) if n]
    return names


def families(session: Session, worker_id: int, start: datetime, end: datetime) -> int:
    """Distinct families who answered about `worker_id` in [start, end).
    Only ever shown when it is below k ("3 so far, 5 needed")."""
    a = _table(Answer)
    count = session.scalar(
        select(func.count(func.distinct(a.c.respondent_id))).where(
            a.c.worker_id == worker_id, a.c.answered_at >= start, a.c.answered_at < end
        )
    )
    return int(count or 0)


# -- digest rows ---------------------------------------------------------------------


def plan(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert digest rows; one whose key exists already is left alone.
    Returns how many are new."""
    made = 0
    for row in rows:
        got = session.execute(
            _insert(session, Digest).values(**row).on_conflict_do_nothing().returning(Digest.id)
        ).first()
        made += got is not None
    return made


@dataclass(frozen=True, slots=True)
class DueDigest:
    id: int
    key: str
    kind: str
    worker_id: int | None
    manager: str | None
    period: str


def claim(
    session: Session,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    keys: Collection[str] | None = None,
) -> list[DueDigest]:
    """Claim up to `limit` due digests: expired claims first (their process
    died), then pending rows, oldest first; with `keys`, only those."""
    d = _table(Digest)
    values = {"status": "claimed", "claimed_by": owner, "lease_until": lease_until}
    cols = (d.c.id, d.c.key, d.c.kind, d.c.worker_id, d.c.manager, d.c.period)
    rows: list[Any] = []
    for claimable in _claimable(d.c.status, d.c.lease_until, d.c.due_at <= now, now):
        if len(rows) >= limit:
            break
        pick = select(d.c.id).where(claimable)
        if keys is not None:
            pick = pick.where(d.c.key.in_(sorted(keys)))
        pick = pick.order_by(d.c.due_at, d.c.id).limit(limit - len(rows))
        rows += _claim(session, d, pick, {**values, "attempts": d.c.attempts + 1}, cols)
    return sorted((DueDigest(*row) for row in rows), key=lambda x: x.id)


def finish(
    session: Session,
    digest_id: int,
    owner: str,
    *,
    status: str,
    now: datetime,
    platform: str | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record how a claimed digest ended; False if the claim was lost."""
    values: dict[str, Any] = {"claimed_by": None, "lease_until": None, "last_error": error}
    if retry_at is not None:
        values.update(status="pending", due_at=retry_at)
    else:
        values.update(status=status, platform=platform, sent_at=now if status == "sent" else None)
    result = session.execute(
        update(Digest)
        .where(Digest.id == digest_id, Digest.claimed_by == owner, Digest.status == "claimed")
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


def digests(session: Session) -> list[Digest]:
    return list(session.scalars(select(Digest).order_by(Digest.id)))


def attempts(session: Session, digest_id: int) -> int:
    return int(session.scalar(select(Digest.attempts).where(Digest.id == digest_id)) or 0)


def latest_period(session: Session, worker_id: int) -> str | None:
    """The newest period a worker's digest was planned for."""
    return session.scalar(
        select(Digest.period)
        .where(Digest.worker_id == worker_id, Digest.kind == "worker")
        .order_by(Digest.due_at.desc(), Digest.id.desc())
        .limit(1)
    )


# -- comments ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewComment:
    answer_id: int
    team_id: int
    worker_id: int
    question_id: str
    dimension: str
    text: str
    answered_at: datetime
    alerted: bool
    """Its words raised a safeguarding alert: it is kept out of every digest."""


def new_comments(session: Session, dimensions: Collection[str], limit: int) -> list[NewComment]:
    """Free-text answers not yet taken in for digests, each marked if its
    words raised a safeguarding alert (those never reach a digest)."""
    a, c, s = _table(Answer), _table(DigestComment), _table(SafeguardingAlert)
    # The alert and the answer of one step share its `now`; the words match
    # too unless the text was erased (trimmed, as answers are stored).
    alerted = exists().where(
        and_(
            s.c.respondent_id == a.c.respondent_id,
            or_(s.c.at == a.c.answered_at, func.trim(s.c.text) == a.c.text),
        )
    )
    taken = exists().where(c.c.answer_id == a.c.id)
    rows = session.execute(
        select(
            a.c.id,
            a.c.team_id,
            a.c.worker_id,
            a.c.question_id,
            a.c.dimension,
            a.c.text,
            a.c.answered_at,
            alerted,
        )
        .where(a.c.text.is_not(None), a.c.dimension.in_(sorted(dimensions)), ~taken)
        .order_by(a.c.id)
        .limit(limit)
    )
    return [
        NewComment(int(i), int(t), int(w), str(q), str(d), str(x), at, bool(hit))
        for i, t, w, q, d, x, at, hit in rows
    ]


def add_comments(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    made = 0
    for row in rows:
        got = session.execute(
            _insert(session, DigestComment)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(DigestComment.id)
        ).first()
        made += got is not None
    return made


@dataclass(frozen=True, slots=True)
class StoredComment:
    id: int
    answer_id: int
    team_id: int
    worker_id: int
    heading: str
    text: str
    status: str


def _stored(c: DigestComment) -> StoredComment:
    return StoredComment(c.id, c.answer_id, c.team_id, c.worker_id, c.heading, c.text, c.status)


def released(
    session: Session,
    worker_id: int,
    months: Collection[str],
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> list[StoredComment]:
    """Released comments in `months`; with `since`/`before`, only those
    released in that window (a weekly digest's new ones)."""
    query = select(DigestComment).where(
        DigestComment.worker_id == worker_id,
        DigestComment.month.in_(sorted(months)),
        DigestComment.status == "released",
    )
    released_at = func.coalesce(DigestComment.decided_at, DigestComment.created_at)
    if since is not None:
        query = query.where(released_at >= since)
    if before is not None:
        query = query.where(released_at < before)
    return [_stored(c) for c in session.scalars(query)]


def to_offer(session: Session, limit: int) -> list[StoredComment]:
    """Comments waiting for a manager that have not been shown to one yet."""
    rows = session.scalars(
        select(DigestComment)
        .where(DigestComment.status == "pending", DigestComment.offered_at.is_(None))
        .order_by(DigestComment.id)
        .limit(limit)
    )
    return [_stored(c) for c in rows]


def mark_offered(session: Session, ids: Collection[int], now: datetime) -> None:
    if ids:
        session.execute(
            update(DigestComment).where(DigestComment.id.in_(ids)).values(offered_at=now)
        )


def comment(session: Session, comment_id: int, *, lock: bool = False) -> StoredComment | None:
    q = select(DigestComment).where(DigestComment.id == comment_id)
    if lock:
        q = q.with_for_update()
    found = session.scalars(q).first()
    return _stored(found) if found else None


def decide(
    session: Session, comment_id: int, status: str, by: str, now: datetime, text: str | None
) -> None:
    values: dict[str, Any] = {"status": status, "decided_by": by, "decided_at": now}
    if text is not None:
        values["text"] = text
    session.execute(update(DigestComment).where(DigestComment.id == comment_id).values(**values))


def comment_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(DigestComment.status, func.count()).group_by(DigestComment.status)
    )
    return {str(s): int(n) for s, n in rows}
