"""Follow-ups out through Heard's real Telegram channel (python-telegram-bot)
to the fake Bot API, which enforces an overall and a per-chat flood limit."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.telegram import TelegramChannel
from bot.config import Config, TelegramConfig
from bot.runtime.app import App, build
from bot.runtime.followups import FollowUpRunner
from bot.runtime.process import Runtime
from storage.models import OutboxMessage, Respondent
from tests.conftest import SECRET, FakeClock, FakeTime
from tests.fakes.telegram_api import FakeTelegram
from tests.followups_seed import seed_due_checkins

RATE = 40
"""The fake's overall limit. Heard is set a little under it: here both share
one process, so a pause in it bunches requests on arrival, which a real
platform, far away, would not see."""


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(rate_limit_overall=RATE, rate_limit_per_chat=1.0, burst_per_chat=3) as fake:
        yield fake


@dataclass
class Running:
    app: App
    runtime: Runtime
    runner: FollowUpRunner


@pytest.fixture
async def heard(db_url: str, tg: FakeTelegram, clock: FakeClock) -> AsyncIterator[Running]:
    config = Config(
        database_url=db_url,
        pseudonym_secret=SECRET,
        telegram=TelegramConfig(
            enabled=True,
            base_url=tg.base_url,
            bot_username=tg.bot_username,
            max_per_second=RATE * 0.9,
            max_per_chat_per_second=1.0,
            chat_burst=3,
        ),
    )
    app = build(config, time=FakeTime(clock).time())
    channel = TelegramChannel(config.telegram, tg.token, poll_timeout=1)
    runtime = Runtime(app, [channel])
    await runtime.start()
    runner = FollowUpRunner(app, runtime.channels, executor=runtime.executor, owner="tg-test")
    try:
        yield Running(app, runtime, runner)
    finally:
        await runtime.stop()
        app.close()


async def test_due_checkins_reach_every_chat_once_in_order_within_the_limits(
    heard: Running, tg: FakeTelegram, clock: FakeClock
) -> None:
    chats = seed_due_checkins(heard.app.sessions, count=60, now=clock(), secret=SECRET)
    tg.fail_next("sendMessage", 502, count=2)  # the channel retries these itself
    await heard.runner.tick()
    assert await heard.runner.sender.drain(timeout=30) == 120

    sent = tg.sent()
    assert Counter(str(m["chat_id"]) for m in sent) == {chat: 2 for chat in chats}
    for chat in chats[:5]:
        first, second = tg.sent(chat)
        assert first["text"].startswith("Hello again") and second["reply_markup"]
    assert tg.too_many_requests_count == 0
    with heard.app.sessions() as s:
        rows = s.scalars(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {"sent"}
    by_chat = {(str(m["chat_id"]), str(m["message_id"])) for m in sent}
    assert {(r.address, r.platform_message_id) for r in rows} == by_chat

    await heard.runner.tick()
    assert await heard.runner.sender.drain() == 0


async def test_a_chat_that_blocked_the_bot_fails_and_its_family_is_unreachable(
    heard: Running, tg: FakeTelegram, clock: FakeClock
) -> None:
    chats = seed_due_checkins(heard.app.sessions, count=3, now=clock(), secret=SECRET)
    tg.block_chat(chats[1])
    await heard.runner.tick()
    assert await heard.runner.sender.drain() == 4
    assert tg.sent_count(chats[1]) == 0
    with heard.app.sessions() as s:
        assert sorted(s.scalars(select(Respondent.status))) == ["active", "active", "unreachable"]
        statuses = s.scalars(
            select(OutboxMessage.status)
            .where(OutboxMessage.address == chats[1])
            .order_by(OutboxMessage.id)
        ).all()
    assert statuses == ["failed", "cancelled"]
    clock.advance(timedelta(weeks=7))
    await heard.runner.tick()
    assert await heard.runner.sender.drain() == 0
