"""Report statements: the aggregation (GROUP BY in the database, never answer
rows in Python), the frozen report cells of finished months, managers and
the report audit.

`aggregate` returns one row per (scope, measure) for one period: distinct
families, answers, the sum and count of numeric values, and answers per code.
It reads only the covering index `ix_answers_report`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from storage.models import Answer, AuditEntry, Manager, ReportCell, ReportSnapshot, Team, Worker

ORG = None


@dataclass(slots=True)
class Aggregate:
    """One cell's raw figures, before disclosure control."""

    team_id: int | None
    worker_id: int | None
    dimension: str
    set_id: str
    set_version: int
    question_id: str
    n: int = 0
    answers: int = 0
    total: int = 0
    valued: int = 0
    distribution: dict[str, int] = field(default_factory=dict)

    @property
    def measure(self) -> tuple[str, str, int, str]:
        return (self.dimension, self.set_id, self.set_version, self.question_id)


def _answers() -> Table:
    return Answer.__table__  # type: ignore[return-value]


def aggregate(
    session: Session, start: datetime, end: datetime, scale_questions: Collection[str]
) -> list[Aggregate]:
    """Figures for every worker, team and the organisation, per dimension and
    per question (set, version, id), for answers in [start, end). Comments
    are never read. For a dimension, the mean and distribution are over its
    scale questions (`scale_questions`: their ids)."""
    a = _answers()
    where = and_(
        a.c.answered_at >= start,
        a.c.answered_at < end,
        a.c.dimension != "comment",
        a.c.text.is_(None),
    )
    scale = a.c.question_id.in_(sorted(scale_questions)) if scale_questions else literal(False)
    out: dict[tuple[Any, ...], Aggregate] = {}
    levels: tuple[tuple[Any, ...], ...] = ((), (a.c.team_id,), (a.c.team_id, a.c.worker_id))
    question = (a.c.dimension, a.c.set_id, a.c.set_version, a.c.question_id)
    for scope in levels:
        rows = session.execute(
            select(
                *scope,
                *question,
                func.count(func.distinct(a.c.respondent_id)),
                func.count(),
                func.coalesce(func.sum(a.c.value), 0),
                func.count(a.c.value),
            )
            .where(where)
            .group_by(*scope, *question)
        )
        for row in rows:
            team, worker = _scope(row, len(scope))
            d, s, v, q = row[len(scope) : len(scope) + 4]
            out[(team, worker, d, s, v, q)] = Aggregate(
                team, worker, d, s, v, q, int(row[-4]), int(row[-3]), int(row[-2]), int(row[-1])
            )
        value = case((scale, a.c.value), else_=None)
        rows = session.execute(
            select(
                *scope,
                a.c.dimension,
                func.count(func.distinct(a.c.respondent_id)),
                func.count(),
                func.coalesce(func.sum(value), 0),
                func.count(value),
            )
            .where(where)
            .group_by(*scope, a.c.dimension)
        )
        for row in rows:
            team, worker = _scope(row, len(scope))
            d = row[len(scope)]
            out[(team, worker, d, "", 0, "")] = Aggregate(
                team, worker, d, "", 0, "", int(row[-4]), int(row[-3]), int(row[-2]), int(row[-1])
            )
    # Answers per code add up across scopes, so one grouping at the finest
    # level gives every scope's distribution.
    codes = session.execute(
        select(
            a.c.team_id,
            a.c.worker_id,
            *question,
            a.c.code,
            func.count(),
            func.count(case((scale, 1), else_=None)),
        )
        .where(where)
        .group_by(a.c.team_id, a.c.worker_id, *question, a.c.code)
    )
    for team, worker, d, s, v, q, code, count, scaled in codes:
        for key in ((None, None), (team, None), (team, worker)):
            out[(*key, d, s, v, q)].distribution[code] = out[(*key, d, s, v, q)].distribution.get(
                code, 0
            ) + int(count)
            if scaled:
                dim = out[(*key, d, "", 0, "")]
                dim.distribution[code] = dim.distribution.get(code, 0) + int(scaled)
    return list(out.values())


def any_answers(session: Session, start: datetime, end: datetime) -> bool:
    a = _answers()
    found = session.execute(
        select(a.c.id).where(a.c.answered_at >= start, a.c.answered_at < end).limit(1)
    ).first()
    return found is not None


def _scope(row: Sequence[Any], width: int) -> tuple[int | None, int | None]:
    if width == 0:
        return None, None
    if width == 1:
        return int(row[0]), None
    return int(row[0]), int(row[1])


def staffing(session: Session) -> list[tuple[int, int]]:
    """Every (team, worker) pair: registered workers and those answers name."""
    pairs = {(int(t), int(w)) for w, t in session.execute(select(Worker.id, Worker.team_id))}
    return sorted(pairs)


def answer_pairs(session: Session, start: datetime, end: datetime) -> list[tuple[int, int]]:
    """(team, worker) pairs that appear in answers of [start, end)."""
    a = _answers()
    rows = session.execute(
        select(a.c.team_id, a.c.worker_id)
        .where(a.c.answered_at >= start, a.c.answered_at < end)
        .distinct()
    )
    return [(int(t), int(w)) for t, w in rows]


# -- frozen cells -----------------------------------------------------------------


def snapshot_months(session: Session, k: int, months: Collection[str]) -> dict[str, int]:
    """The months of `months` already frozen, with the version of each."""
    rows = session.execute(
        select(ReportSnapshot.month, ReportSnapshot.version).where(
            ReportSnapshot.k == k, ReportSnapshot.month.in_(sorted(months))
        )
    )
    return {m: int(v) for m, v in rows}


class StoredCell(NamedTuple):
    """A frozen cell as reports read it (plain values, no ORM object)."""

    period: str
    team_id: int | None
    worker_id: int | None
    dimension: str
    set_id: str
    set_version: int
    question_id: str
    n: int
    total: int
    valued: int
    distribution: dict[str, Any]
    suppressed: bool
    reason: str | None


def cells(
    session: Session, k: int, periods: Collection[str], team_id: int | None, *, level: str
) -> list[StoredCell]:
    """Stored cells of `periods`. With `team_id`: that team and its workers.
    Without: `level` "org" (the organisation), "teams" (and every team) or
    "all" (every cell)."""
    c = ReportCell
    q = select(
        c.period,
        c.team_id,
        c.worker_id,
        c.dimension,
        c.set_id,
        c.set_version,
        c.question_id,
        c.n,
        c.total,
        c.valued,
        c.distribution,
        c.suppressed,
        c.reason,
    ).where(c.k == k, c.period.in_(sorted(periods)))
    if team_id is not None:
        q = q.where(c.team_id == team_id)
    elif level == "org":
        q = q.where(c.team_id.is_(None))
    elif level == "teams":
        q = q.where(c.worker_id.is_(None))
    return [StoredCell._make(row) for row in session.execute(q.order_by(c.id))]


class Decided(NamedTuple):
    """A stored cell's count and decision: what a later snapshot must respect."""

    period: str
    team_id: int | None
    worker_id: int | None
    measure: tuple[str, str, int, str]
    n: int
    reason: str | None
    """None when published."""


def decided_cells(session: Session, k: int, periods: Collection[str]) -> list[Decided]:
    c = ReportCell
    rows = session.execute(
        select(
            c.period,
            c.team_id,
            c.worker_id,
            c.dimension,
            c.set_id,
            c.set_version,
            c.question_id,
            c.n,
            c.suppressed,
            c.reason,
        ).where(c.k == k, c.period.in_(sorted(periods)))
    )
    return [
        Decided(p, t, w, (d, s, v, q), int(n), r if sup else None)
        for p, t, w, d, s, v, q, n, sup, r in rows
    ]


def save_snapshot(
    session: Session,
    k: int,
    month: str,
    rows: Iterable[dict[str, Any]],
    now: datetime,
    *,
    version: int,
) -> bool:
    """Store one month's new cells; False (and nothing written) if another
    process stored the same snapshot first."""
    from storage.repo import _insert

    marked = session.execute(
        _insert(session, ReportSnapshot)
        .values(k=k, month=month, computed_at=now, version=version)
        .on_conflict_do_nothing()
        .returning(ReportSnapshot.month)
    ).first()
    if marked is None:
        return False
    _add_cells(session, k, month, rows)
    return True


def extend_snapshot(
    session: Session,
    k: int,
    month: str,
    rows: Iterable[dict[str, Any]],
    *,
    version: int,
    was: int,
) -> bool:
    """Add the cells of the figure kinds a month frozen at version `was`
    lacks, and mark it `version`; False (and nothing written) if another
    process did so first. The cells it had stay as they were."""
    marked = session.execute(
        update(ReportSnapshot)
        .where(ReportSnapshot.k == k, ReportSnapshot.month == month, ReportSnapshot.version == was)
        .values(version=version)
    )
    if not marked.rowcount:  # type: ignore[attr-defined]
        return False
    _add_cells(session, k, month, rows)
    return True


def _add_cells(session: Session, k: int, month: str, rows: Iterable[dict[str, Any]]) -> None:
    batch = [{"k": k, "snapshot": month, **r} for r in rows]
    table: Table = ReportCell.__table__  # type: ignore[assignment]
    for i in range(0, len(batch), 5000):
        session.execute(insert(table), batch[i : i + 5000])


def drop_snapshots(session: Session) -> None:
    """Forget every frozen cell (for tests and benchmarks only)."""
    session.execute(delete(ReportCell))
    session.execute(delete(ReportSnapshot))


# -- managers -----------------------------------------------------------------------


def add_manager(
    session: Session, team: Team, slack_user: str, name: str | None, now: datetime
) -> Manager | None:
    """None if this Slack user already manages this team."""
    existing = session.scalar(
        select(Manager).where(Manager.team_id == team.id, Manager.slack_user_id == slack_user)
    )
    if existing is not None:
        return None
    manager = Manager(team_id=team.id, slack_user_id=slack_user, name=name, created_at=now)
    session.add(manager)
    session.flush()
    return manager


def list_managers(session: Session) -> list[tuple[Manager, Team]]:
    rows = session.execute(
        select(Manager, Team)
        .join(Team, Team.id == Manager.team_id)
        .order_by(Manager.slack_user_id, Team.name)
    )
    return [(m, t) for m, t in rows.tuples()]


def remove_managers(session: Session, slack_user: str, team_id: int | None) -> int:
    q = delete(Manager).where(Manager.slack_user_id == slack_user)
    if team_id is not None:
        q = q.where(Manager.team_id == team_id)
    result = session.execute(q)
    return int(getattr(result, "rowcount", 0) or 0)


def managed_team_ids(session: Session, slack_user: str) -> set[int]:
    rows = session.execute(select(Manager.team_id).where(Manager.slack_user_id == slack_user))
    return {int(t) for (t,) in rows}


def team_by_id(session: Session, team_id: int) -> Team | None:
    return session.get(Team, team_id)


def teams_by_id(session: Session) -> dict[int, str]:
    return {int(i): n for i, n in session.execute(select(Team.id, Team.name))}


def workers_by_id(session: Session) -> dict[int, tuple[str, int]]:
    return {
        int(i): (n, int(t))
        for i, n, t in session.execute(select(Worker.id, Worker.name, Worker.team_id))
    }


def worker_by_id(session: Session, worker_id: int) -> Worker | None:
    return session.get(Worker, worker_id)


# -- the audit ----------------------------------------------------------------------


def audit_entries(session: Session, since: datetime | None) -> list[AuditEntry]:
    q = select(AuditEntry)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    return list(session.scalars(q.order_by(AuditEntry.at, AuditEntry.id)))
