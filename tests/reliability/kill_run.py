"""kill -9 of `heard run` while families answer, restarting each time: the
driver shared by the reliability test (a few kill points) and
`bench/kill9.py` (a hundred).

Every family is a closed loop on the fake Bot API: it makes its next move
once the reply it waits for has arrived (the consent, then each question,
then the thanks). Meanwhile `heard run` is killed with SIGKILL at random
moments once it is polling (or listening, in webhook mode) and started again.
Afterwards: every survey completed, every answer stored exactly once, no
reply missing; a reply may have arrived twice only if it was in flight at a
kill, and those repeats are counted."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.core import questions, texts
from bot.service import admin
from storage import db
from storage.models import Answer
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
ADULT = questions.get("adult")
SECRET = "kill-run-pseudonym-secret-0123456789"
WEBHOOK_SECRET = "kill-run-webhook-secret"
FIRST_CHAT = 6_100_001


@dataclass
class Family:
    chat: int
    token: str
    step: int = 0
    since: int = 0
    waiting: bool = False
    acted_at: float = 0.0
    followed: bool = False
    shown: dict[str, Any] | None = None
    """The message that carried the reply waited for: its buttons are pressed next."""


@dataclass
class KillReport:
    families: int
    kills: int = 0
    completed: int = 0
    answers: int = 0
    distinct_answers: int = 0
    missing_replies: int = 0
    repeats: int = 0
    seconds: float = 0.0
    stuck: list[str] = field(default_factory=list)


def _plan() -> list[tuple[str, str, str]]:
    """(kind, what, marker of the reply to wait for)."""
    n = len(ADULT.questions)
    moves = [("start", "", "2 minutes"), ("tap", "Yes, let's start", f"(1 of {n})")]
    for i, q in enumerate(ADULT.questions):
        marker = f"({i + 2} of {n})" if i + 1 < n else "Thank you"
        if q.kind.value == "text":
            moves.append(("type", "Kind and clear", marker))
        else:
            # The last label ("Always", "Not sure", …) also opens the questions
            # asked only after a good answer, so every question comes in turn.
            moves.append(("tap", q.labels["en"][-1], marker))
    return moves


def _with_keyboard(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    keyed = [m for m in messages if (m.get("reply_markup") or {}).get("inline_keyboard")]
    return keyed[-1] if keyed else None


def _press(tg: FakeTelegram, fam: Family, label: str) -> None:
    """Press `label` on the message the family is looking at: the one that
    carried the reply it waited for. Not simply the latest message with a
    keyboard: after a kill, replies sent but not yet recorded as sent are sent
    again, in order, so an earlier question can arrive again just after the
    later one the family is answering (Heard counts those as repeats; its
    buttons on the message in view stay valid)."""
    if fam.shown is not None:
        rows = fam.shown["reply_markup"]["inline_keyboard"]
        for button in (b for row in rows for b in row):
            if button.get("text") == label and "callback_data" in button:
                tg.user_presses(fam.chat, fam.shown["message_id"], button["callback_data"])
                return
    tg.user_taps(fam.chat, label)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(
    folder: Path, tg: FakeTelegram, invites: int, mode: str, *, url: str | None = None
) -> tuple[Path, str, int]:
    """A migrated database (SQLite in `folder` unless `url`) with `invites`
    cards, and a config for `heard run`."""
    url = url or f"sqlite:///{folder / 'heard.db'}"
    eng = db.make_engine(url)
    db.upgrade(eng)
    now = datetime.now(UTC)
    with db.session_factory(eng).begin() as s:
        admin.add_team(s, "Kill team", now)
        worker = admin.add_worker(s, "Kill team", "Kill worker", None, now)
        tokens = [
            admin.create_invite(
                s,
                worker,
                set_id="adult",
                locale="en",
                now=now,
                valid_for=timedelta(days=30),
                bot_username=tg.bot_username,
                texts=texts.load(),
            )[0].token
            for _ in range(invites)
        ]
    eng.dispose()
    port = _free_port()
    hook = (
        f'mode = "webhook"\nwebhook_url = "http://127.0.0.1:{port}/telegram/hook"\n'
        f'listen = "127.0.0.1"\nport = {port}\nsecret_token_env = "HEARD_TELEGRAM_SECRET"\n'
        if mode == "webhook"
        else 'mode = "polling"\n'
    )
    cfg = folder / "heard.toml"
    cfg.write_text(
        f"""[database]
url = "{url}"
[privacy]
pseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"
[telegram]
enabled = true
token_env = "HEARD_TELEGRAM_TOKEN"
base_url = "{tg.base_url}"
bot_username = "{tg.bot_username}"
max_per_second = 0
max_per_chat_per_second = 0
{hook}
[safeguarding]
alert_channel = "telegram:-100999"
"""
    )
    (folder / "tokens").write_text("\n".join(tokens))
    return cfg, url, port


def _start(cfg: Path, tg: FakeTelegram, log: Path, mode: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HEARD_PSEUDONYM_SECRET": SECRET,
        "HEARD_TELEGRAM_TOKEN": tg.token,
        "HEARD_TELEGRAM_SECRET": WEBHOOK_SECRET,
    }
    before = len(tg.calls("getUpdates" if mode == "polling" else "setWebhook"))
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--config", str(cfg), "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    method = "getUpdates" if mode == "polling" else "setWebhook"
    deadline = time.monotonic() + 60
    while len(tg.calls(method)) <= before:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"heard run did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    return proc


def run_kills(
    folder: Path, *, families: int, kills: int, mode: str = "polling", seed: int = 14
) -> KillReport:
    """Drive `families` at once through the adult survey while killing
    `heard run` `kills` times at random moments; return what happened. A
    family that finishes while kills remain is followed by a new one (a new
    chat and invite), so many kill points fall mid-conversation."""
    rng = random.Random(seed)
    plan = _plan()
    report = KillReport(families=families)
    began = time.monotonic()
    with FakeTelegram(webhook_max_attempts=10_000, webhook_retry_delay=0.01) as tg:
        cfg, url, _ = _prepare(folder, tg, min(5000, families * (kills + 1)), mode)
        tokens = (folder / "tokens").read_text().split("\n")
        fams = [Family(FIRST_CHAT + n, token) for n, token in enumerate(tokens[:families])]
        spare = tokens[families:]
        log = folder / "heard.log"
        proc = _start(cfg, tg, log, mode)
        next_kill = time.monotonic() + rng.uniform(0.05, 1.0)
        try:
            while True:
                now = time.monotonic()
                for fam in fams:
                    if fam.step >= len(plan):
                        continue
                    kind, what, marker = plan[fam.step]
                    if fam.waiting:
                        got = tg.sent(fam.chat)[fam.since :]
                        hits = [m for m in got if marker in (m["text"] or "")]
                        if hits:
                            fam.step += 1
                            fam.waiting = False
                            fam.shown = _with_keyboard(hits) or fam.shown
                        elif now - fam.acted_at > 60:
                            report.stuck.append(f"chat {fam.chat} waiting for {marker!r}")
                            fam.step = len(plan)
                        continue
                    fam.since = tg.sent_count(fam.chat)
                    if kind == "start":
                        tg.user_sends_start(fam.chat, fam.token)
                    elif kind == "tap":
                        _press(tg, fam, what)
                    else:
                        tg.user_sends_text(fam.chat, what)
                    fam.waiting, fam.acted_at = True, now
                if report.kills < kills and spare:
                    for fam in [f for f in fams if f.step >= len(plan) and not f.followed]:
                        if spare:
                            fam.followed = True
                            fams.append(Family(FIRST_CHAT + len(fams), spare.pop()))
                if all(f.step >= len(plan) for f in fams):
                    break
                if report.kills < kills and now >= next_kill:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    report.kills += 1
                    proc = _start(cfg, tg, log, mode)
                    # A family waits for a running Heard: the restart (seconds on a
                    # busy machine) does not count towards being stuck.
                    restarted = time.monotonic()
                    for fam in fams:
                        if fam.waiting:
                            fam.acted_at = restarted
                    next_kill = restarted + rng.uniform(0.05, 1.0)
                time.sleep(0.01)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        for fam in fams:
            texts_sent = [m["text"] or "" for m in tg.sent(fam.chat)]
            for _, _, marker in plan:
                seen = sum(marker in t for t in texts_sent)
                report.missing_replies += seen == 0
                report.repeats += max(0, seen - 1)
            report.completed += any("Thank you" in t for t in texts_sent)
        report.families = len(fams)
    eng = db.make_engine(url)
    with db.session_factory(eng)() as s:
        report.answers = int(s.scalar(select(func.count()).select_from(Answer)) or 0)
        pairs = select(Answer.respondent_id, Answer.round, Answer.question_id).distinct()
        report.distinct_answers = int(
            s.scalar(select(func.count()).select_from(pairs.subquery())) or 0
        )
    eng.dispose()
    report.seconds = time.monotonic() - began
    return report
