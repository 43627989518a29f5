"""How long the monthly digests take to plan and build.

Seeds an organisation (default 20 teams, 400 workers, 20,000 families over
2025, with bulk INSERTs) on SQLite, then times

* freezing the year's report snapshots (paid once, by whatever first needs a
  finished month: a report or a digest);
* planning every worker's and manager's digest for December 2025 (one row
  each, under its key), and planning again (nothing new);
* claiming and building all of them (each a worker-scoped report, the
  previous month for the change, released comments and the chart PNG), in
  batches of 20 as `heard run` does; nothing is sent.

    .venv/bin/python bench/digest_speed.py [--families 20000] [--workers 400]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.config import Config
from bot.runtime.app import build
from storage.models import Manager
from tests.reports_seed import random_org, seed

NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)  # the first working day of January 2026


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=400)
    parser.add_argument("--teams", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'heard.db'}"
        app = build(
            Config(database_url=url, pseudonym_secret=b"bench-secret-0123456789"),
            clock=lambda: NOW,
        )
        app.store.upgrade()
        rng = random.Random(3)
        org = random_org(
            rng,
            teams=args.teams,
            workers_per_team=max(1, args.workers // args.teams),
            families=args.families,
            months=[(2025, m) for m in range(1, 13)],
        )
        written = seed(app.store.engine, org, rng)
        with app.store.engine.begin() as conn:
            conn.execute(
                insert(Manager),
                [
                    {
                        "team_id": t,
                        "slack_user_id": f"U0MAN{t:05d}",
                        "name": None,
                        "created_at": NOW,
                    }
                    for t in org.teams
                ],
            )
        print(f"seeded {written:,} answers, {len(org.workers)} workers, {len(org.teams)} teams")
        digests = app.staff.digests
        start = time.perf_counter()
        with app.store.begin() as tx:
            digests.reports.ensure_snapshots(tx, [digests._period(None, NOW)], NOW)
        print(f"freeze the year's snapshots: {time.perf_counter() - start:.2f} s (once)")
        start = time.perf_counter()
        planned = digests.plan()
        print(f"plan {planned} digests: {(time.perf_counter() - start) * 1000:.0f} ms")
        start = time.perf_counter()
        again = digests.plan()
        print(f"plan again: {again} new, {(time.perf_counter() - start) * 1000:.0f} ms")
        built = 0
        start = time.perf_counter()
        while batch := digests.claim("bench", timedelta(minutes=5)):
            built += len(batch)
            for out in batch:
                digests.finish(out, "bench", sent=True)
        took = time.perf_counter() - start
        each = took / max(built, 1) * 1000
        print(f"claim and build {built} digests: {took:.1f} s ({each:.0f} ms each)")
        app.close()


if __name__ == "__main__":
    main()
