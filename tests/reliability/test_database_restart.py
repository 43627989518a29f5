"""PostgreSQL crashes and comes back while families answer over Telegram.

`heard run` (polling the fake Bot API, or receiving its webhook, on a
PostgreSQL server of the test's own) keeps running throughout. While the
database is down, a family whose message cannot be stored is told kindly to
try again in a few minutes, and the update stays unconfirmed (polling) or
gets a 500 (webhook); once the database is back, Telegram delivers it again
and the family gets their real reply. Afterwards every survey is
complete, every answer is stored exactly once, nothing was set aside as
poison, and the process never restarted."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from storage.models import Answer, Conversation, OutboxMessage, SetAsideInbound
from tests.fakes.telegram_api import FakeTelegram
from tests.reliability.kill_run import ADULT, FIRST_CHAT, Family, _plan, _prepare, _start
from tests.reliability.pg_server import PostgresServer

FAMILIES = 6
TRY_AGAIN = "Please try again in a few minutes"


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    pg = PostgresServer()
    pg.start()
    admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE heard"))
    admin.dispose()
    yield pg
    pg.close()


def _step(tg: FakeTelegram, fams: list[Family], plan: list[tuple[str, str, str]]) -> list[str]:
    """Move every family that has its awaited reply; return who is stuck."""
    stuck = []
    now = time.monotonic()
    for fam in fams:
        if fam.step >= len(plan):
            continue
        kind, what, marker = plan[fam.step]
        if fam.waiting:
            if any(marker in (m["text"] or "") for m in tg.sent(fam.chat)[fam.since :]):
                fam.step += 1
                fam.waiting = False
            elif now - fam.acted_at > 60:
                stuck.append(f"chat {fam.chat} waiting for {marker!r}")
                fam.step = len(plan)
            continue
        fam.since = tg.sent_count(fam.chat)
        if kind == "start":
            tg.user_sends_start(fam.chat, fam.token)
        elif kind == "tap":
            tg.user_taps(fam.chat, what)
        else:
            tg.user_sends_text(fam.chat, what)
        fam.waiting, fam.acted_at = True, now
    return stuck


def _apologies(tg: FakeTelegram, fams: list[Family]) -> int:
    return sum(TRY_AGAIN in (m["text"] or "") for f in fams for m in tg.sent(f.chat))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_families_are_told_to_try_again_and_heard_recovers_by_itself(
    tmp_path: Path, server: PostgresServer, mode: str
) -> None:
    plan = _plan()
    url = server.url("heard")
    with FakeTelegram(webhook_max_attempts=10_000, webhook_retry_delay=0.05) as tg:
        cfg, _, _ = _prepare(tmp_path, tg, FAMILIES, mode, url=url)
        tokens = (tmp_path / "tokens").read_text().split("\n")
        fams = [Family(FIRST_CHAT + n, token) for n, token in enumerate(tokens)]
        proc = _start(cfg, tg, tmp_path / "heard.log", mode)
        stuck: list[str] = []
        try:
            # Until everyone is a few questions in.
            while sum(f.step for f in fams) < FAMILIES * 3:
                stuck += _step(tg, fams, plan)
                time.sleep(0.01)
            server.stop("immediate")
            deadline = time.monotonic() + 30
            while _apologies(tg, fams) < 2 and time.monotonic() < deadline:
                stuck += _step(tg, fams, plan)
                time.sleep(0.01)
            down_until = time.monotonic() + 3  # polling keeps retrying meanwhile
            while time.monotonic() < down_until:
                stuck += _step(tg, fams, plan)
                time.sleep(0.01)
            during = _apologies(tg, fams)
            answered_before = sum(f.step for f in fams)
            server.start()
            while not all(f.step >= len(plan) for f in fams):
                stuck += _step(tg, fams, plan)
                time.sleep(0.01)
            assert proc.poll() is None, "heard run stopped"
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        log = (tmp_path / "heard.log").read_text()
        assert stuck == [], log[-3000:]
        assert during >= 2, "no family was told to try again while the database was down"
        assert answered_before < FAMILIES * len(plan)
        repeats = 0
        for fam in fams:
            texts = [m["text"] or "" for m in tg.sent(fam.chat)]
            for _, _, marker in plan:
                seen = sum(marker in t for t in texts)
                assert seen, (fam.chat, marker)
                repeats += seen - 1
        # A reply may repeat only if it was sent as the database went down,
        # before it could be recorded as sent: at most one per family.
        assert repeats <= FAMILIES
    eng = create_engine(url)
    with eng.connect() as conn:
        answers = conn.scalar(select(func.count()).select_from(Answer))
        distinct = conn.scalar(
            select(func.count()).select_from(
                select(Answer.respondent_id, Answer.round, Answer.question_id).distinct().subquery()
            )
        )
        phases = [row[0]["phase"] for row in conn.execute(select(Conversation.state))]
        set_aside = conn.scalar(select(func.count()).select_from(SetAsideInbound))
        outbox = set(conn.scalars(select(OutboxMessage.status)))
    eng.dispose()
    assert answers == distinct == FAMILIES * len(ADULT.questions)
    assert phases == ["done"] * FAMILIES
    assert set_aside == 0, "an outage is not poison"
    assert outbox == {"sent"}, "every reply went out"
    assert "Traceback" not in log
