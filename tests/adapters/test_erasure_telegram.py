"""A family on Telegram answers, writes a comment and something alarming, then
deletes everything. With `heard run`'s scrub duty running, the database keeps
nothing of them: no table, and on SQLite no byte of the database file or its
WAL, holds their chat id, pseudonym, first name or words."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from bot.core.privacy import pseudonym
from bot.runtime import erasure
from storage.models import OutboxMessage, ScrubRequest
from tests.adapters.telegram_harness import Heard, reply_after
from tests.adapters.test_telegram import ASKED
from tests.conftest import SECRET
from tests.fakes.telegram_api import FakeTelegram

CHAT = 5550123987
NAME = "Gwendolyn"
COMMENT = "the xylophone marmalade lady was kind"
DISCLOSURE = "he hits me every night and I want to kill myself"
NEEDLES = [str(CHAT), pseudonym(SECRET, "telegram", str(CHAT)), NAME, "xylophone", "kill myself"]


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def _in_tables(heard: Heard) -> list[str]:
    hits = []
    with heard.app.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                flat = json.dumps([str(v) for v in row]).lower()
                hits += [f"{table}: {n}" for n in NEEDLES if n.lower() in flat]
    return hits


def _in_files(db_url: str) -> list[str]:
    path = Path(str(make_url(db_url).database))
    hits = []
    for f in (path, path.with_name(path.name + "-wal")):
        if f.exists():
            raw = f.read_bytes().lower()
            hits += [f"{f.name}: {n}" for n in NEEDLES if n.lower().encode() in raw]
    return hits


def _scrubbed(heard: Heard) -> bool:
    with heard.app.sessions() as s:
        waiting = s.scalar(select(ScrubRequest.id).limit(1))
        farewell = s.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "farewell"))
    return waiting is None and farewell is None


def _buttons(tg: FakeTelegram) -> list[str]:
    sent = tg.sent(CHAT)
    markup = (sent[-1].get("reply_markup") or {}) if sent else {}
    return [b.get("text") for row in markup.get("inline_keyboard", []) for b in row]


async def _survey(tg: FakeTelegram, token: str) -> None:
    await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token, first_name=NAME))
    await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
    for q in ASKED:
        if q.kind.value == "text":
            await reply_after(tg, CHAT, lambda: tg.user_sends_text(CHAT, COMMENT, first_name=NAME))
        else:
            label = q.labels["en"][1]
            await reply_after(tg, CHAT, lambda label=label: tg.user_taps(CHAT, label))


async def test_forget_over_telegram_leaves_no_trace(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg) as heard:
        duty = asyncio.create_task(erasure.extra(every=0.2)(heard.runtime))
        try:
            await _survey(tg, heard.invite())
            await reply_after(tg, CHAT, lambda: tg.user_sends_text(CHAT, DISCLOSURE))
            assert {n.split(": ")[1] for n in _in_tables(heard)} >= {
                str(CHAT),
                "xylophone",
                "kill myself",
            }
            tg.user_sends_text(CHAT, "forget")
            await tg.wait_for_async(
                lambda: "Yes, delete it" in _buttons(tg), timeout=10, message="the confirmation"
            )
            done = await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, delete it"))
            assert "deleted" in done
            await tg.wait_for_async(
                lambda: _scrubbed(heard) or None, timeout=15, message="the scrub duty"
            )
            assert _in_tables(heard) == []
            if heard.app.store.dialect == "sqlite":
                assert _in_files(db_url) == []
        finally:
            duty.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await duty
