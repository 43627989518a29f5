"""An alert the duty channel's platform refuses for good (the app is not in
the channel, the channel is gone) is not quietly re-sent there: it is logged
at ERROR, without anything about the family, and goes to the fallback
channel at once instead of after `ack_within`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.telegram import TelegramChannel
from bot.config import Config, SafeguardingConfig
from bot.core import texts
from bot.runtime.app import build
from bot.runtime.run import serve
from bot.service import admin
from tests.adapters import test_alerts as base
from tests.adapters.telegram_harness import reply_after, telegram_config
from tests.adapters.test_alerts import CHAT, DISCLOSURE, DUTY, FALLBACK, Running, _disclose
from tests.conftest import SECRET
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

fakes = base.fakes
heard = base.heard


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
async def test_a_refused_alert_goes_to_the_fallback_at_once_and_logs_an_error(
    heard: Running, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    caplog.set_level(logging.INFO)
    heard.slack.respond_error("chat.postMessage", error)
    await _disclose(heard)
    await heard.slack.async_wait_for(lambda: heard.duty_messages(FALLBACK), timeout=15)
    (message,) = heard.duty_messages(FALLBACK)
    assert DISCLOSURE in message["text"]
    assert heard.duty_messages() == [], "the refused duty channel got nothing"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("alert #1 could not be delivered" in e for e in errors), errors
    for record in caplog.records:
        line = record.getMessage()
        assert DISCLOSURE not in line and str(CHAT) not in line


async def test_heard_run_says_at_start_that_it_cannot_post_to_the_duty_channel_and_carries_on(
    db_url: str,
    fakes: tuple[FakeTelegram, FakeSlack],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    _tg, slack = fakes
    slack.leave_channel(DUTY)

    def cannot_post() -> list[str]:
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        return [line for line in lines if "cannot post" in line]

    async for h in base._start(db_url, fakes, monkeypatch):
        await slack.async_wait_for(cannot_post, timeout=15)
        assert cannot_post() == [
            "[safeguarding] alert_channel: Heard cannot post to that slack channel "
            "(not_in_channel); add the app to it or fix the setting, or alerts may not "
            "reach the duty team"
        ]
        await _disclose(h)
        await h.slack.async_wait_for(lambda h=h: h.duty_messages(FALLBACK), timeout=15)


async def test_the_telegram_check_uses_get_chat() -> None:
    with FakeTelegram() as tg:
        channel = TelegramChannel(telegram_config(tg), tg.token, poll_timeout=1)

        async def nothing(*_: object) -> list[object]:
            return []

        await channel.start(nothing, nothing)  # type: ignore[arg-type]
        try:
            assert await channel.can_post("-1001234") == ""
            tg.block_chat(-1001234)
            assert await channel.can_post("-1001234") == "forbidden"
        finally:
            await channel.stop()


async def test_a_telegram_duty_group_that_refuses_sends_the_alert_to_the_fallback(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    duty, fallback = -1001230001, -1001230002
    with FakeTelegram() as tg:
        tg.block_chat(duty)
        config = Config(
            database_url=db_url,
            pseudonym_secret=SECRET,
            telegram=telegram_config(tg),
            safeguarding=replace(
                SafeguardingConfig(),
                alert_channel=f"telegram:{duty}",
                fallback_channel=f"telegram:{fallback}",
            ),
        )
        app = build(config)
        with app.sessions.begin() as s:
            now = app.conversation.clock()
            admin.add_team(s, "North", now)
            worker = admin.add_worker(s, "North", "Sam Jones", None, now)
            card, _ = admin.create_invite(
                s,
                worker,
                set_id="adult",
                locale="en",
                now=now,
                valid_for=timedelta(days=1),
                bot_username=tg.bot_username,
                texts=texts.load(),
            )
        stop = asyncio.Event()
        channel = TelegramChannel(config.telegram, tg.token, poll_timeout=1)
        task = asyncio.create_task(serve(app, [channel], stop=stop, health=False))
        try:
            await tg.wait_for_async(lambda: tg.commands, timeout=10)
            await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, card.token))
            await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
            await reply_after(tg, CHAT, lambda: tg.user_sends_text(CHAT, DISCLOSURE), count=2)
            alerts = await tg.wait_for_async(
                lambda: [m for m in tg.sent(fallback) if "alert #1" in (m["text"] or "")],
                timeout=15,
                message="the alert in the fallback group",
            )
            assert DISCLOSURE in alerts[0]["text"]
        finally:
            stop.set()
            async with asyncio.timeout(20):
                await task
            app.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("[safeguarding] alert_channel: Heard cannot post" in e for e in errors), errors
    assert any("alert #1 could not be delivered" in e for e in errors), errors
