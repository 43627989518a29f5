"""Follow-ups under real `heard run` processes: two on one PostgreSQL
database, one killed with SIGKILL mid-drain, and restarts after downtime.
Deliveries are counted where they land: at the fake Telegram Bot API, which
runs in this test process and enforces an overall and a per-chat limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import db
from storage.models import FollowUp, OutboxMessage
from tests.adapters.telegram_harness import free_port
from tests.conftest import PG_URL, SECRET, _drop_postgres, fresh_postgres
from tests.fakes.telegram_api import FakeTelegram
from tests.followups_seed import MESSAGES_PER_CHECKIN, seed_due_checkins

OVERALL = 200
"""Messages per second the fake accepts; each process is given half."""
PER_PROCESS = OVERALL // 2
IN_FLIGHT = 2 * PER_PROCESS
"""What `heard run` may hold claimed at once at that rate (bot.runtime.followups.in_flight_for)."""
LEASE = 4.0
WEBHOOK_SECRET = "webhook-secret-for-tests"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        if os.environ.get("HEARD_REQUIRE_POSTGRES") == "1":
            pytest.fail("HEARD_TEST_POSTGRES_URL is not set but PostgreSQL runs are required")
        pytest.skip("several processes need PostgreSQL (run scripts/test)")
    url = fresh_postgres()
    yield url
    _drop_postgres(url)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(
        rate_limit_overall=OVERALL, rate_limit_per_chat=1.0, burst_per_chat=3
    ) as fake:
        yield fake


class HeardRun:
    """One `heard run` subprocess in webhook mode, as behind a load balancer."""

    def __init__(self, name: str, folder: Path, db_url: str, tg: FakeTelegram) -> None:
        self.name = name
        port = free_port()
        self.config = folder / f"{name}.toml"
        self.config.write_text(
            f"""
[database]
url = "{db_url}"

[privacy]
pseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"

[logging]
level = "INFO"

[telegram]
enabled = true
token_env = "HEARD_TELEGRAM_TOKEN"
mode = "webhook"
base_url = "{tg.base_url}"
bot_username = "{tg.bot_username}"
webhook_url = "http://127.0.0.1:{port}/telegram/hook"
listen = "127.0.0.1"
port = {port}
secret_token_env = "HEARD_TELEGRAM_SECRET"
max_per_second = {PER_PROCESS}
max_per_chat_per_second = 1
chat_burst = 3

[schedule]
quiet_hours = "off"
sweep_every = "1s"
lease = "{LEASE:.0f}s"

[safeguarding]
alert_channel = "telegram:-100999"
"""
        )
        self.log = folder / f"{name}.log"
        self.env = {
            **os.environ,
            "HEARD_TELEGRAM_TOKEN": tg.token,
            "HEARD_TELEGRAM_SECRET": WEBHOOK_SECRET,
            "HEARD_PSEUDONYM_SECRET": SECRET.decode(),
            "PYTHONFAULTHANDLER": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HeardRun:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "--config", str(self.config), "run"],
                cwd=self.config.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send `sig` and wait; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            self.proc.wait(10)
            pytest.fail(f"{self.name} did not stop within {timeout}s:\n{self.output()[-6000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Callable[..., HeardRun]]:
    started: list[HeardRun] = []

    def start(name: str, db_url: str, tg: FakeTelegram) -> HeardRun:
        run = HeardRun(name, tmp_path, db_url, tg).start()
        started.append(run)
        return run

    try:
        yield start
    finally:
        for run in started:
            run.kill()


def wait_for(what: str, check: Callable[[], Any], timeout: float, *logs: HeardRun) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for run in logs:
            if run.proc is not None and run.proc.poll() is not None and run.proc.returncode != -9:
                pytest.fail(f"{run.name} exited early:\n{run.output()[-3000:]}")
        time.sleep(0.05)
    tails = "\n".join(f"--- {r.name}\n{r.output()[-2000:]}" for r in logs)
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tails}")


def seed(
    db_url: str,
    count: int,
    *,
    due_at: datetime | None = None,
    tag: str = "seed",
    first_chat: int = 700_000,
) -> set[str]:
    eng = db.make_engine(db_url)
    try:
        now = datetime.now(UTC)
        return set(
            seed_due_checkins(
                db.session_factory(eng),
                count=count,
                now=now,
                due_at=due_at,
                secret=SECRET,
                tag=tag,
                first_chat=first_chat,
            )
        )
    finally:
        eng.dispose()


def per_chat(tg: FakeTelegram) -> Counter[str]:
    return Counter(str(m["chat_id"]) for m in tg.sent())


def outbox_state(db_url: str) -> dict[str, Any]:
    eng = db.make_engine(db_url)
    try:
        with db.session_factory(eng)() as s:
            by_status = dict(
                s.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                ).all()
            )
            owners = dict(
                s.execute(
                    select(OutboxMessage.claimed_by, func.count())
                    .where(OutboxMessage.status == "sent")
                    .group_by(OutboxMessage.claimed_by)
                ).all()
            )
            followups = dict(
                s.execute(select(FollowUp.status, func.count()).group_by(FollowUp.status)).all()
            )
        return {"outbox": by_status, "owners": owners, "followups": followups}
    finally:
        eng.dispose()


def started(tg: FakeTelegram, count: int) -> Callable[[], bool]:
    return lambda: len(tg.calls("setWebhook")) >= count


def assert_greeting_first(tg: FakeTelegram, chats: set[str]) -> None:
    texts: dict[str, list[dict[str, Any]]] = {}
    for m in tg.sent():
        texts.setdefault(str(m["chat_id"]), []).append(m)
    for chat in chats:
        messages = texts[chat]
        assert messages[0]["text"].startswith("Hello again"), chat
        assert messages[-1]["reply_markup"], chat


def test_two_processes_send_each_of_1000_follow_ups_exactly_once(
    pg_url: str, tg: FakeTelegram, runs: Callable[..., HeardRun]
) -> None:
    chats = seed(pg_url, 1000)
    one, two = runs("one", pg_url, tg), runs("two", pg_url, tg)
    expected = len(chats) * MESSAGES_PER_CHECKIN
    wait_for("every message", lambda: tg.sent_count() >= expected, 60, one, two)
    time.sleep(LEASE + 2)  # long enough for any claim to expire and be sent again
    assert tg.sent_count() == expected
    assert per_chat(tg) == {chat: MESSAGES_PER_CHECKIN for chat in chats}
    assert tg.too_many_requests_count == 0
    assert_greeting_first(tg, chats)
    state = outbox_state(pg_url)
    assert state["outbox"] == {"sent": expected}
    assert state["followups"] == {"done": len(chats)}
    assert len(state["owners"]) == 2, "both processes should have sent some"
    for run in (one, two):
        assert run.stop() == 0
        assert "Traceback" not in run.output()
        for chat in list(chats)[:20]:
            assert chat not in run.output()


def test_kill_9_mid_drain_loses_nothing_and_resends_at_most_what_was_in_flight(
    pg_url: str, tg: FakeTelegram, runs: Callable[..., HeardRun]
) -> None:
    chats = seed(pg_url, 1000)
    victim, survivor = runs("victim", pg_url, tg), runs("survivor", pg_url, tg)
    expected = len(chats) * MESSAGES_PER_CHECKIN
    wait_for("a third of the messages", lambda: tg.sent_count() >= expected // 3, 60, victim)
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait(10)  # type: ignore[union-attr]
    wait_for(
        "every chat to get both messages",
        lambda: (
            len(per_chat(tg)) == len(chats) and min(per_chat(tg).values()) >= MESSAGES_PER_CHECKIN
        ),
        60,
        survivor,
    )
    time.sleep(LEASE + 2)
    duplicates = tg.sent_count() - expected
    print(f"\nkill -9 mid-drain: {duplicates} message(s) sent twice (bound {IN_FLIGHT})")
    assert 0 <= duplicates <= IN_FLIGHT
    assert set(per_chat(tg)) == chats
    assert_greeting_first(tg, chats)
    state = outbox_state(pg_url)
    assert state["outbox"] == {"sent": expected}
    assert state["followups"] == {"done": len(chats)}
    assert survivor.stop() == 0


def test_restart_after_downtime_sends_what_was_missed_once_and_a_clean_stop_resends_nothing(
    db_url: str, tg: FakeTelegram, runs: Callable[..., HeardRun]
) -> None:
    first = runs("first", db_url, tg)
    wait_for("start", started(tg, 1), 30, first)
    time.sleep(1.5)
    assert first.stop() == 0

    # While Heard is down, check-ins fall due (some days ago) and more will soon.
    now = datetime.now(UTC)
    missed = seed(db_url, 150, due_at=now - timedelta(days=3), tag="missed", first_chat=1000)
    soon = seed(db_url, 50, due_at=now + timedelta(seconds=4), tag="soon", first_chat=2000)
    second = runs("second", db_url, tg)
    everyone = missed | soon
    wait_for(
        "what was missed and what fell due",
        lambda: tg.sent_count() >= len(everyone) * MESSAGES_PER_CHECKIN,
        60,
        second,
    )
    time.sleep(2.5)  # two more sweeps: nothing more goes out
    assert per_chat(tg) == {chat: MESSAGES_PER_CHECKIN for chat in everyone}

    # A clean stop in the middle of a drain: what was under way is recorded,
    # the rest given back, and the next process sends each message once.
    late = seed(db_url, 300, tag="late", first_chat=3000)
    before = tg.sent_count()
    wait_for("the drain to start", lambda: tg.sent_count() >= before + 100, 60, second)
    assert second.stop() == 0
    assert outbox_state(db_url)["outbox"].get("claimed", 0) == 0
    third = runs("third", db_url, tg)
    total = (len(everyone) + len(late)) * MESSAGES_PER_CHECKIN
    wait_for("the rest", lambda: tg.sent_count() >= total, 60, third)
    time.sleep(2.5)
    assert per_chat(tg) == {chat: MESSAGES_PER_CHECKIN for chat in everyone | late}
    assert tg.too_many_requests_count == 0
    assert third.stop() == 0
    assert "Traceback" not in second.output() + third.output()
