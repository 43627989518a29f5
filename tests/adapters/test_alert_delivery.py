"""An alert the duty channel's platform refuses for good (the app is not in
the channel, the channel is gone) is not quietly re-sent there: it is logged
at ERROR, without anything about the family, and goes to the fallback
channel at once instead of after `ack_within`."""

from __future__ import annotations

import logging

import pytest

from adapters.telegram import TelegramChannel
from tests.adapters import test_alerts as base
from tests.adapters.telegram_harness import telegram_config
from tests.adapters.test_alerts import CHAT, DISCLOSURE, DUTY, FALLBACK, Running, _disclose
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
