"""How fast managers get their reports from a million answers.

Seeds 1,000,000 answers (100 teams, 2,000 workers, 100,000 families over the
12 months of 2025) with bulk INSERTs on SQLite and, when
HEARD_TEST_POSTGRES_URL is set, on PostgreSQL; then prints

* the one-off cost of freezing the year's snapshots (SQL aggregation of each
  finished month, quarter and the year, plus disclosure control), paid by the
  first report that needs a month and never again;
* p50/p95 of a team-month, a worker-month and a whole-organisation-year
  report (each a full use case: access, reading the frozen cells, audit).

Targets: team-month p95 < 200 ms, organisation-year < 1 s.

    .venv/bin/python bench/report_speed.py [--answers 1000000] [--runs 30]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bot.config import Config
from bot.runtime.app import build
from bot.service.staff import cli_viewer
from tests.reports_seed import CLOSED, random_org, seed

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return _percentiles(samples)


def run(url: str, answers: int, runs: int) -> None:
    app = build(
        Config(database_url=url, pseudonym_secret=b"bench-secret-0123456789"), clock=lambda: NOW
    )
    app.store.upgrade()
    rng = random.Random(2025)
    families = 100_000
    per_round = len(CLOSED)
    extra = max(0.0, answers / per_round / families - 1)
    org = random_org(
        rng,
        teams=100,
        workers_per_team=20,
        families=families,
        months=[(2025, m) for m in range(1, 13)],
        extra_round=extra,
    )
    start = time.perf_counter()
    written = seed(app.store.engine, org, rng)
    seeded = time.perf_counter() - start
    if app.store.dialect == "postgresql":
        with app.store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(f"{app.store.dialect}: seeded {written:,} answers in {seeded:.1f} s")

    reports = app.staff.reports
    viewer = cli_viewer()
    start = time.perf_counter()
    reports.report(viewer, period="2025", fmt="json")
    print(f"  freezing the 12 monthly snapshots (once): {time.perf_counter() - start:.1f} s")

    teams = list(org.teams.values())
    workers = [str(w) for w in org.workers]
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    pick = random.Random(1)
    cases: list[tuple[str, Callable[[], object], float | None]] = [
        (
            "team-month",
            lambda: reports.report(viewer, team=pick.choice(teams), period=pick.choice(months)),
            200.0,
        ),
        (
            "worker-month",
            lambda: reports.report(viewer, worker=pick.choice(workers), period=pick.choice(months)),
            None,
        ),
        ("organisation-year", lambda: reports.report(viewer, period="2025"), 1000.0),
    ]
    for name, fn, target in cases:
        p50, p95 = _time(fn, runs)
        verdict = ""
        if target is not None:
            verdict = f"  (target p95 < {target:.0f} ms: {'met' if p95 < target else 'MISSED'})"
        print(f"  {name:18s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms{verdict}")
    app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", args.answers, args.runs)
    pg = os.environ.get("HEARD_TEST_POSTGRES_URL", "")
    if pg and args.only != "sqlite":
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS heard_report_bench"))
            conn.execute(text("CREATE DATABASE heard_report_bench"))
        try:
            run(pg.rsplit("/", 1)[0] + "/heard_report_bench", args.answers, args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE IF EXISTS heard_report_bench"))
            admin.dispose()
    elif not pg:
        print("postgresql: skipped (set HEARD_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
