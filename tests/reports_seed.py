"""Synthetic organisations for report tests and the report benchmark: teams,
workers, families (pseudonyms only) and answers to the adult set, written with
bulk INSERTs (executemany on plain tables), not the ORM one row at a time."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, insert

from bot.core import questions
from storage.models import Answer, Respondent, Team, Worker

ADULT = questions.get("adult")
CLOSED = [q for q in ADULT.questions if q.kind is not questions.Kind.TEXT]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Family:
    team: int
    worker: int
    rounds: tuple[tuple[int, int, int], ...]
    """(year, month, day) of each round of answers."""


@dataclass(frozen=True)
class Org:
    teams: dict[int, str]
    workers: dict[int, tuple[int, str]]
    """worker id -> (team id, name)."""
    families: tuple[Family, ...]


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def random_org(
    rng: random.Random,
    *,
    teams: int,
    workers_per_team: int,
    families: int,
    months: Sequence[tuple[int, int]],
    extra_round: float = 0.1,
) -> Org:
    team_names = {t: f"Team {t:03d}" for t in range(1, teams + 1)}
    workers: dict[int, tuple[int, str]] = {}
    wid = 0
    for t in team_names:
        for i in range(workers_per_team):
            wid += 1
            workers[wid] = (t, f"Worker {t:03d}-{i + 1:02d}")
    worker_ids = list(workers)
    fams = []
    for _ in range(families):
        w = rng.choice(worker_ids)
        count = 2 if rng.random() < extra_round else 1
        rounds = tuple((*rng.choice(list(months)), rng.randint(1, 28)) for _ in range(count))
        fams.append(Family(workers[w][0], w, rounds))
    return Org(team_names, workers, tuple(fams))


def seed(engine: Engine, org: Org, rng: random.Random, *, batch: int = 20_000) -> int:
    """Write `org` into a migrated, empty database; returns the answers written."""
    with engine.begin() as conn:
        conn.execute(
            insert(_table(Team)),
            [{"id": t, "name": n, "created_at": T0} for t, n in org.teams.items()],
        )
        conn.execute(
            insert(_table(Worker)),
            [
                {
                    "id": w,
                    "team_id": t,
                    "name": n,
                    "slack_user_id": None,
                    "active": True,
                    "created_at": T0,
                }
                for w, (t, n) in org.workers.items()
            ],
        )
        respondents = [
            {
                "id": i + 1,
                "pseudonym": f"p{i + 1:08d}",
                "platform": "telegram",
                "team_id": f.team,
                "worker_id": f.worker,
                "invite_id": None,
                "status": "active",
                "created_at": T0,
            }
            for i, f in enumerate(org.families)
        ]
        for i in range(0, len(respondents), batch):
            conn.execute(insert(_table(Respondent)), respondents[i : i + batch])
    written = 0
    rows: list[dict[str, object]] = []
    answers = _table(Answer)

    def flush() -> None:
        nonlocal rows
        if rows:
            with engine.begin() as conn:
                conn.execute(insert(answers), rows)
            rows = []

    for i, f in enumerate(org.families):
        for r, (year, month, day) in enumerate(f.rounds, start=1):
            at = datetime(year, month, day, 12, tzinfo=UTC) + timedelta(minutes=i % 600)
            for q in CLOSED:
                code = rng.choice(q.codes)
                rows.append(
                    {
                        "respondent_id": i + 1,
                        "round": r,
                        "set_id": ADULT.id,
                        "set_version": ADULT.version,
                        "question_id": q.id,
                        "dimension": q.dimension,
                        "code": code,
                        "value": q.value_of(code),
                        "text": None,
                        "team_id": f.team,
                        "worker_id": f.worker,
                        "answered_at": at,
                    }
                )
                written += 1
            if len(rows) >= batch:
                flush()
    flush()
    return written
