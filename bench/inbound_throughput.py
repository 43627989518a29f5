"""Inbound messages per second: Heard's service + engine + storage with durable
commits, against a plain driver script doing the same reads and writes per
transaction on the same machine (the limit), on SQLite and on PostgreSQL.

    python bench/inbound_throughput.py [--families 150] [--rounds 3]
                                       [--postgres auto|off|URL]

Heard and the plain script run in turn, round after round, each on a fresh
database, so a slow moment of a shared machine (fsync latency above all)
falls on both; the ratio is taken round by round and the median printed.
SQLite: WAL, synchronous=FULL. PostgreSQL: with `auto` a throwaway server is
started with its defaults (fsync on, synchronous_commit on) if the server
binaries are installed, else HEARD_TEST_POSTGRES_URL is used; the server's
fsync and synchronous_commit settings are printed beside its figure.
Also printed: CPU per message in this process (the server's own CPU is not
in it on PostgreSQL). Target: Heard >= 0.5 x plain.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.core import questions, texts
from bot.core.messages import Inbound, InboundKind
from bot.service.conversation import Conversations, ReplyQueue
from storage import db, repo
from storage.models import Invite
from storage.unit import Store

SECRET = b"bench-secret-0123456789abcdef"
PER_FAMILY = 2 + len(questions.get("adult").questions)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Rate:
    per_s: float
    cpu_ms: float


def _messages(tokens: list[str]) -> list[Inbound]:
    adult = questions.get("adult")
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
    return messages


def heard_rate(url: str, families: int) -> tuple[Rate, int]:
    """Every family's whole survey through `Conversations.handle`, replies
    queued in the outbox as `heard run` does."""
    eng = db.make_engine(url)
    db.upgrade(eng)
    sessions = db.session_factory(eng)
    service = Conversations(
        Store(eng), secret=SECRET, texts=texts.load(), clock=lambda: NOW, monotonic=time.monotonic
    )
    with sessions.begin() as s:
        team = repo.add_team(s, "Bench", NOW)
        worker = repo.add_worker(s, team, "Worker", None, NOW)
        tokens = []
        for n in range(families):
            inv = Invite(
                token=f"bench{n}",
                code=f"BNCH-{n:04d}",
                team_id=team.id,
                worker_id=worker.id,
                set_id="adult",
                locale="en",
                created_at=NOW,
                expires_at=NOW + timedelta(days=1),
            )
            repo.add_invite(s, inv)
            tokens.append(inv.token)
    messages = _messages(tokens)
    queue = ReplyQueue("bench", timedelta(minutes=2))
    cpu, start = time.process_time(), time.perf_counter()
    for msg in messages:
        service.handle(msg, queue=queue)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    with sessions() as s:
        stored = repo.count_answers(s)
    eng.dispose()
    return Rate(len(messages) / elapsed, cpu * 1000 / len(messages)), stored


SCHEMA = """
CREATE TABLE processed (platform TEXT, key TEXT, at TEXT, PRIMARY KEY (platform, key));
CREATE TABLE respondents (id INTEGER PRIMARY KEY, pseudonym TEXT UNIQUE);
CREATE TABLE conversations (respondent_id INTEGER PRIMARY KEY, state TEXT, at TEXT);
CREATE TABLE answers (id {serial} PRIMARY KEY, respondent_id INT, round INT,
    question_id TEXT, value INT, at TEXT, UNIQUE (respondent_id, round, question_id));
CREATE TABLE outbox (id {serial} PRIMARY KEY, platform TEXT, address TEXT, text TEXT,
    status TEXT, claimed_by TEXT, at TEXT);
CREATE INDEX ix_outbox_address ON outbox (address, platform, id);
"""

STATEMENTS = (
    "INSERT INTO processed VALUES ('bench', ?, 'now') ON CONFLICT DO NOTHING",
    "SELECT r.id, c.state FROM respondents r LEFT JOIN conversations c "
    "ON c.respondent_id = r.id WHERE r.pseudonym = ?",
    "INSERT INTO answers (respondent_id, round, question_id, value, at) "
    "VALUES (?, 1, ?, 1, 'now') ON CONFLICT DO NOTHING",
    "SELECT id FROM outbox WHERE address = ? AND platform = 'bench' "
    "AND (status = 'pending' OR (status = 'claimed' AND claimed_by != 'me')) LIMIT 1",
    "INSERT INTO outbox (platform, address, text, status, claimed_by, at) "
    "VALUES ('bench', ?, ?, 'claimed', 'me', 'now') RETURNING id",
    "INSERT INTO conversations VALUES (?, ?, 'now') ON CONFLICT (respondent_id) "
    "DO UPDATE SET state = excluded.state, at = excluded.at",
)


def _plain_loop(
    execute: Callable[[str, tuple[Any, ...]], Any],
    begin: Callable[[], None],
    commit: Callable[[], None],
    count: int,
) -> Rate:
    """The same per-message work through the driver alone: dedupe insert,
    read state, write the answer, probe the chat's outbox, queue the reply
    (Heard's replies are durable: written in the same transaction), write the
    state, one durable commit."""
    mark, load, answer, behind, reply, state = STATEMENTS
    cpu, start = time.process_time(), time.perf_counter()
    for n in range(count):
        fam, q = divmod(n, PER_FAMILY)
        begin()
        execute(mark, (str(n),))
        execute(load, (f"p{fam}",)).fetchone()
        execute(answer, (fam, f"q{q}"))
        execute(behind, (str(fam),)).fetchone()
        execute(reply, (str(fam), f"({q} of 10) Does your worker tell you the truth?")).fetchone()
        execute(state, (fam, json.dumps({"phase": "asking", "index": q})))
        commit()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Rate(count / elapsed, cpu * 1000 / count)


def plain_sqlite_rate(path: Path, count: int) -> Rate:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA.format(serial="INTEGER"))
    conn.executemany(
        "INSERT INTO respondents (id, pseudonym) VALUES (?, ?)",
        [(n, f"p{n}") for n in range(count // PER_FAMILY + 1)],
    )
    try:
        return _plain_loop(
            conn.execute, lambda: conn.execute("BEGIN"), lambda: conn.execute("COMMIT"), count
        )
    finally:
        conn.close()


def plain_postgres_rate(url: str, count: int) -> Rate:
    import psycopg

    conn = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    with conn.transaction():
        for ddl in SCHEMA.format(serial="BIGSERIAL").split(";"):
            if ddl.strip():
                conn.execute(ddl)  # type: ignore[call-overload]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO respondents (id, pseudonym) VALUES (%s, %s)",
                [(n, f"p{n}") for n in range(count // PER_FAMILY + 1)],
            )
    cur = conn.cursor()

    def execute(sql: str, params: tuple[Any, ...]) -> Any:
        return cur.execute(sql.replace("?", "%s"), params, prepare=True)  # type: ignore[call-overload]

    try:
        return _plain_loop(execute, lambda: None, conn.commit, count)
    finally:
        conn.close()


# -- PostgreSQL -------------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@contextmanager
def durable_postgres(folder: Path) -> Iterator[str | None]:
    """A throwaway PostgreSQL server with its durable defaults, or None."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        yield None
        return
    data = folder / "pg"
    data.mkdir()
    run: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        shutil.chown(folder, "postgres")
        run = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = [*run, str(bin_dir / "pg_ctl"), "-D", str(data / "d")]
    init = ["-U", "heard", "-A", "trust", "-E", "UTF8", "--no-locale"]
    _quiet([*run, str(bin_dir / "initdb"), "-D", str(data / "d"), *init])
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    _quiet([*ctl, "-l", str(data / "log"), "-w", "-o", opts, "start"])
    try:
        yield f"postgresql+psycopg://heard@127.0.0.1:{port}/postgres"
    finally:
        _quiet([*ctl, "-m", "immediate", "stop"], check=False)


def _quiet(argv: list[str], *, check: bool = True) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=check)


class Databases:
    """Fresh PostgreSQL databases on one server, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = db.make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def settings(self) -> str:
        with self.admin.connect() as conn:
            fsync = conn.execute(text("SHOW fsync")).scalar()
            sync = conn.execute(text("SHOW synchronous_commit")).scalar()
        return f"fsync={fsync}, synchronous_commit={sync}"

    def fresh(self) -> str:
        name = f"heard_bench_{os.getpid()}_{len(self.made)}"
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        self.made.append(name)
        return make_url(self.url).set(database=name).render_as_string(False)

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self.admin.dispose()


# -- report ---------------------------------------------------------------------------


def report(name: str, heard: list[Rate], plain: list[Rate], note: str) -> None:
    ratios = [h.per_s / p.per_s for h, p in zip(heard, plain, strict=True)]
    med = statistics.median
    print(f"{name} ({note})")
    print(
        f"  (a) Heard service+engine: {med(h.per_s for h in heard):8.1f} msg/s  "
        f"CPU {med(h.cpu_ms for h in heard):.3f} ms/msg"
    )
    print(
        f"  (b) plain driver script:  {med(p.per_s for p in plain):8.1f} msg/s  "
        f"CPU {med(p.cpu_ms for p in plain):.3f} ms/msg  (same reads/writes per transaction)"
    )
    each = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"  ratio (a)/(b), median:    {med(ratios):8.2f}  (target >= 0.5; rounds: {each})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="auto", help="auto, off, or a database URL")
    args = parser.parse_args()
    total = args.families * PER_FAMILY
    print(f"messages per run: {total} ({args.families} families), rounds: {args.rounds}")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        heard: list[Rate] = []
        plain: list[Rate] = []
        for r in range(args.rounds):
            rate, stored = heard_rate(f"sqlite:///{folder / f'heard{r}.db'}", args.families)
            heard.append(rate)
            plain.append(plain_sqlite_rate(folder / f"plain{r}.db", total))
        print(f"answers stored per Heard run: {stored}")
        report("SQLite", heard, plain, "WAL, synchronous=FULL")
        if args.postgres == "off":
            return
        with postgres_server(args.postgres, folder) as url:
            if url is None:
                print("PostgreSQL: not measured (no server binaries, no HEARD_TEST_POSTGRES_URL)")
                return
            dbs = Databases(url)
            try:
                heard, plain = [], []
                for _ in range(args.rounds):
                    heard.append(heard_rate(dbs.fresh(), args.families)[0])
                    plain.append(plain_postgres_rate(dbs.fresh(), total))
                report("PostgreSQL", heard, plain, dbs.settings())
            finally:
                dbs.close()


@contextmanager
def postgres_server(choice: str, folder: Path) -> Iterator[str | None]:
    if choice != "auto":
        yield choice
        return
    with durable_postgres(folder) as url:
        yield url or os.environ.get("HEARD_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
