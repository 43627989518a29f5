"""Inbound messages per second: Heard's service + engine + SQLite with durable
commits, against a plain sqlite3 script doing the same reads and writes per
transaction on the same machine (the limit).

    python bench/inbound_throughput.py [--families 150]

Prints both rates and their ratio (target: Heard >= 0.5 x plain).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core import questions, texts
from bot.core.messages import Inbound, InboundKind
from bot.service.conversation import Conversations
from storage import db, repo
from storage.models import Invite
from storage.unit import Store

SECRET = b"bench-secret-0123456789abcdef"


def heard_rate(folder: Path, families: int) -> tuple[float, int]:
    eng = db.make_engine(f"sqlite:///{folder / 'heard.db'}")
    db.upgrade(eng)
    sessions = db.session_factory(eng)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    service = Conversations(
        Store(eng), secret=SECRET, texts=texts.load(), clock=lambda: now, monotonic=time.monotonic
    )
    adult = questions.get("adult")
    with sessions.begin() as s:
        team = repo.add_team(s, "Bench", now)
        worker = repo.add_worker(s, team, "Worker", None, now)
        tokens = []
        for n in range(families):
            inv = Invite(
                token=f"bench{n}",
                code=f"BNCH-{n:04d}",
                team_id=team.id,
                worker_id=worker.id,
                set_id="adult",
                locale="en",
                created_at=now,
                expires_at=now + timedelta(days=1),
            )
            repo.add_invite(s, inv)
            tokens.append(inv.token)
    messages: list[Inbound] = []
    for n, token in enumerate(tokens):
        chat = str(100000 + n)
        messages.append(Inbound("bench", chat, f"{n}:s", InboundKind.START, token=token))
        messages.append(Inbound("bench", chat, f"{n}:c", InboundKind.BUTTON, data="c1:yes"))
        for i, q in enumerate(adult.questions):
            if q.kind.value == "text":
                msg = Inbound("bench", chat, f"{n}:{i}", InboundKind.TEXT, text="Kind and clear")
            else:
                msg = Inbound(
                    "bench", chat, f"{n}:{i}", InboundKind.BUTTON, data=f"q1.{i}:{q.codes[0]}"
                )
            messages.append(msg)
    start = time.perf_counter()
    for msg in messages:
        service.handle(msg)
    elapsed = time.perf_counter() - start
    with sessions() as s:
        stored = repo.count_answers(s)
    eng.dispose()
    return len(messages) / elapsed, stored


def plain_rate(folder: Path, count: int) -> float:
    """The same per-message work in raw sqlite3: dedupe insert, read state,
    write the answer, write the state, one durable commit."""
    conn = sqlite3.connect(folder / "plain.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(
        """
        CREATE TABLE processed (platform TEXT, key TEXT, at TEXT, PRIMARY KEY (platform, key));
        CREATE TABLE respondents (id INTEGER PRIMARY KEY, pseudonym TEXT UNIQUE);
        CREATE TABLE conversations (respondent_id INTEGER PRIMARY KEY, state TEXT, at TEXT);
        CREATE TABLE answers (id INTEGER PRIMARY KEY, respondent_id INT, round INT,
            question_id TEXT, value INT, at TEXT, UNIQUE (respondent_id, round, question_id));
        """
    )
    per_family = 12
    families = count // per_family + 1
    conn.executemany(
        "INSERT INTO respondents (id, pseudonym) VALUES (?, ?)",
        [(n, f"p{n}") for n in range(families)],
    )
    start = time.perf_counter()
    for n in range(count):
        fam, q = divmod(n, per_family)
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO processed VALUES ('bench', ?, 'now') ON CONFLICT DO NOTHING", (str(n),)
        )
        conn.execute(
            "SELECT r.id, c.state FROM respondents r LEFT JOIN conversations c "
            "ON c.respondent_id = r.id WHERE r.pseudonym = ?",
            (f"p{fam}",),
        ).fetchone()
        conn.execute(
            "INSERT INTO answers (respondent_id, round, question_id, value, at) "
            "VALUES (?, 1, ?, 1, 'now') ON CONFLICT DO NOTHING",
            (fam, f"q{q}"),
        )
        conn.execute(
            "INSERT INTO conversations VALUES (?, ?, 'now') ON CONFLICT (respondent_id) "
            "DO UPDATE SET state = excluded.state, at = excluded.at",
            (fam, json.dumps({"phase": "asking", "index": q})),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        heard, stored = heard_rate(folder, args.families)
        total = args.families * (2 + len(questions.get("adult").questions))
        plain = plain_rate(folder, total)
    print(f"messages:                 {total} ({stored} answers stored)")
    print(f"(a) Heard service+engine: {heard:8.1f} msg/s  (SQLite, WAL, synchronous=FULL)")
    print(f"(b) plain sqlite3 script: {plain:8.1f} msg/s  (same reads/writes per transaction)")
    print(f"ratio (a)/(b):            {heard / plain:8.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
