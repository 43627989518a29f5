"""The uncertain band and the database-down safety path, as families and the
duty team meet them, over the real Telegram and Slack libraries against the
fakes, with `heard run`'s sweep and sender.

The screen is a stand-in here ("wobbly" is uncertain, "hurt" is an alert), so
these tests check what Heard does with a decision, not the model's figures
(those are printed by bench/safeguarding_eval.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack import SlackChannel
from adapters.telegram import TelegramChannel
from bot.config import Config, SafeguardingConfig, ScheduleConfig, SlackConfig
from bot.core import texts
from bot.core.errors import StorageError
from bot.runtime import alerts as runtime_alerts
from bot.runtime import app as app_module
from bot.runtime import followups
from bot.runtime.app import App, build
from bot.runtime.run import serve
from bot.service import admin
from storage.models import SafeguardingAlert
from tests.adapters.telegram_harness import reply_after, telegram_config
from tests.conftest import SECRET
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    FakeSlack,
    SlackClientForTests,
    block_actions_body,
    dm_channel_id,
    dm_message_event,
    event_body,
)
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import screen_words

SIGNING = "band-test-signing-secret-0123456"
DUTY = "C0DUTY"
CHAT = 8201
SLACK_FAMILY = "U0FAMILY77"
WOBBLY = "things at home feel a bit wobbly"
HURT = "he will hurt me tonight"


@dataclass
class Running:
    app: App
    tg: FakeTelegram
    slack: FakeSlack
    slack_url: str
    token: str
    code: str
    spool: Path

    def alerts(self) -> list[SafeguardingAlert]:
        with self.app.sessions() as s:
            return list(s.scalars(select(SafeguardingAlert).order_by(SafeguardingAlert.id)))

    def duty(self, contains: str) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(DUTY, kind="message") if contains in m["text"]]

    async def slack_write(self, text: str, event_id: str, retry: int = 0) -> int:
        body = event_body(
            dm_message_event(SLACK_FAMILY, dm_channel_id(SLACK_FAMILY), text), event_id=event_id
        )
        extra = {"retry_num": retry, "retry_reason": "http_error"} if retry else {}
        status, _, _ = await SlackClientForTests(SIGNING).apost(self.slack_url, body, **extra)
        return status

    def slack_dm(self) -> list[dict[str, Any]]:
        return self.slack.messages(dm_channel_id(SLACK_FAMILY), kind="message")

    async def slack_tap(self, message: dict[str, Any], code: str) -> int:
        buttons = [
            e
            for block in message["blocks"]
            if block.get("type") == "actions"
            for e in block["elements"]
        ]
        (button,) = [b for b in buttons if b["value"] == f"danger:{code}"]
        body = block_actions_body(
            user_id=SLACK_FAMILY,
            channel_id=message["channel"],
            action_id=button["action_id"],
            value=button["value"],
            message_ts=message["ts"],
            message={
                "type": "message",
                "ts": message["ts"],
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": message["text"],
                "blocks": message["blocks"],
            },
        )
        status, _, _ = await SlackClientForTests(SIGNING).apost(self.slack_url, body)
        return status

    @contextlib.contextmanager
    def database_down(self) -> Iterator[None]:
        """Every transaction fails, as in an outage, until the block ends."""

        @contextlib.contextmanager
        def down() -> Iterator[Any]:
            raise StorageError("the database is not available (OperationalError)")
            yield  # pragma: no cover

        self.app.store.begin = down  # type: ignore[method-assign]
        try:
            yield
        finally:
            del self.app.store.begin


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeSlack]]:
    with FakeTelegram() as tg, FakeSlack() as slack:
        yield tg, slack


async def _start(
    db_url: str,
    fakes: tuple[FakeTelegram, FakeSlack],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    stand_in: bool = True,
) -> AsyncIterator[Running]:
    tg, slack = fakes
    monkeypatch.setenv("HEARD_SLACK_BOT_TOKEN", slack.bot_token)
    monkeypatch.setenv("HEARD_SLACK_SIGNING_SECRET", SIGNING)
    if stand_in:
        monkeypatch.setattr(app_module, "screen_for", lambda _config: screen_words())
    spool = tmp_path / "data" / "alert-spool.jsonl"
    config = Config(
        database_url=db_url,
        pseudonym_secret=SECRET,
        telegram=telegram_config(tg),
        slack=SlackConfig(enabled=True, base_url=slack.base_url, port=0),
        schedule=replace(
            ScheduleConfig(),
            sweep_every=timedelta(seconds=0.2),
            quiet_start=ScheduleConfig().quiet_end,
        ),
        safeguarding=replace(
            SafeguardingConfig(),
            alert_channel=DUTY,
            danger_check_after=timedelta(seconds=1),
            spool_file=spool,
        ),
    )
    app = build(config)
    now = app.conversation.clock()
    with app.sessions.begin() as s:
        admin.add_team(s, "North", now)
        worker = admin.add_worker(s, "North", "Sam Jones", "U0WORKER", now)
        cards = [
            admin.create_invite(
                s,
                worker,
                set_id="adult",
                locale="en",
                now=now,
                valid_for=timedelta(days=1),
                bot_username=tg.bot_username,
                texts=texts.load(),
            )[0]
            for _ in range(2)
        ]
    telegram = TelegramChannel(config.telegram, tg.token, poll_timeout=1)
    slack_channel = SlackChannel.from_config(config, app.staff)
    stop = asyncio.Event()
    desk = app.alert_desk
    task = asyncio.create_task(
        serve(
            app,
            [telegram, slack_channel],
            stop=stop,
            extras=(followups.extra(on_sent=desk.on_sent), runtime_alerts.extra(desk)),
        )
    )
    await tg.wait_for_async(lambda: tg.commands, timeout=10)
    await slack.async_wait_for(lambda: slack_channel.address, timeout=10)
    assert slack_channel.address is not None
    host, port = slack_channel.address
    try:
        yield Running(
            app,
            tg,
            slack,
            f"http://{host}:{port}/slack/events",
            cards[0].token,
            cards[1].code,
            spool,
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        app.close()


@pytest.fixture
async def heard(
    db_url: str,
    fakes: tuple[FakeTelegram, FakeSlack],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[Running]:
    async for running in _start(db_url, fakes, monkeypatch, tmp_path):
        yield running


async def _telegram_family(h: Running) -> None:
    await reply_after(h.tg, CHAT, lambda: h.tg.user_sends_start(CHAT, h.token))
    await reply_after(h.tg, CHAT, lambda: h.tg.user_taps(CHAT, "Yes, let's start"))


async def _slack_family(h: Running) -> None:
    assert await h.slack_write(h.code, "EvBAND0001") == 200
    await h.slack.async_wait_for(lambda: h.slack_dm(), timeout=10)
    assert await h.slack_write("yes", "EvBAND0002") == 200
    await h.slack.async_wait_for(lambda: len(h.slack_dm()) >= 2, timeout=10)


# -- the uncertain band over Telegram --------------------------------------------------


async def _telegram_in_band(h: Running) -> str:
    await _telegram_family(h)
    text = await reply_after(h.tg, CHAT, lambda: h.tg.user_sends_text(CHAT, WOBBLY), count=2)
    assert "call 999" in text and text.rstrip().endswith("Is anyone in danger right now?")
    await h.slack.async_wait_for(lambda: h.duty("FOR REVIEW"), timeout=10)
    (review,) = h.alerts()
    assert review.level == "review" and review.text == WOBBLY
    assert WOBBLY in h.duty("FOR REVIEW")[0]["text"]
    return text


@pytest.mark.parametrize(("button", "urgent"), [("Yes", True), ("Not sure", True), ("No", False)])
async def test_telegram_each_answer_to_the_danger_question(
    heard: Running, button: str, urgent: bool
) -> None:
    await _telegram_in_band(heard)
    text = await reply_after(heard.tg, CHAT, lambda: heard.tg.user_taps(CHAT, button), count=2)
    assert ("they will act now" in text) is urgent
    if urgent:
        await heard.slack.async_wait_for(lambda: heard.duty("NOW URGENT"), timeout=10)
        assert heard.alerts()[0].level == "alert"
    else:
        await asyncio.sleep(2.0)  # past danger_check_after: the timeout was cancelled
        assert heard.duty("NOW URGENT") == [] and heard.alerts()[0].level == "review"
    assert "(1 of" in text, "the survey question comes back"


async def test_telegram_no_answer_makes_it_urgent(heard: Running) -> None:
    await _telegram_in_band(heard)
    await heard.slack.async_wait_for(lambda: heard.duty("did not answer"), timeout=10)
    assert heard.alerts()[0].level == "alert"
    assert len(heard.duty("NOW URGENT")) == 1


async def test_telegram_words_typed_instead_are_screened_again(heard: Running) -> None:
    await _telegram_in_band(heard)
    heard.tg.user_sends_text(CHAT, HURT)
    await heard.slack.async_wait_for(lambda: heard.duty(HURT), timeout=10)
    await heard.slack.async_wait_for(lambda: heard.duty("wrote something worrying"), timeout=10)
    assert [a.level for a in heard.alerts()] == ["alert", "alert"]


# -- the uncertain band over Slack ------------------------------------------------------


async def _slack_in_band(h: Running) -> dict[str, Any]:
    await _slack_family(h)
    seen = len(h.slack_dm())
    assert await h.slack_write(WOBBLY, "EvBAND0003") == 200
    await h.slack.async_wait_for(lambda: len(h.slack_dm()) >= seen + 2, timeout=10)
    help_now, question = h.slack_dm()[seen : seen + 2]
    assert "call 999" in help_now["text"]
    assert question["text"].startswith("Is anyone in danger right now?")
    await h.slack.async_wait_for(lambda: h.duty("FOR REVIEW"), timeout=10)
    return question


@pytest.mark.parametrize(("code", "urgent"), [("yes", True), ("unsure", True), ("no", False)])
async def test_slack_each_answer_to_the_danger_question(
    heard: Running, code: str, urgent: bool
) -> None:
    question = await _slack_in_band(heard)
    assert await heard.slack_tap(question, code) == 200
    if urgent:
        await heard.slack.async_wait_for(lambda: heard.duty("NOW URGENT"), timeout=10)
        assert heard.alerts()[0].level == "alert"
    else:
        await asyncio.sleep(2.0)
        assert heard.duty("NOW URGENT") == [] and heard.alerts()[0].level == "review"


async def test_slack_no_answer_makes_it_urgent(heard: Running) -> None:
    await _slack_in_band(heard)
    await heard.slack.async_wait_for(lambda: heard.duty("did not answer"), timeout=10)
    assert heard.alerts()[0].level == "alert"


# -- the database is down while a family discloses ---------------------------------------


async def test_telegram_database_down_help_at_once_alert_exactly_once(heard: Running) -> None:
    await _telegram_family(heard)
    with heard.database_down():
        text = await reply_after(heard.tg, CHAT, lambda: heard.tg.user_sends_text(CHAT, HURT))
        assert "call 999" in text
        assert heard.spool.exists()
        assert stat.S_IMODE(os.stat(heard.spool).st_mode) == 0o600
        assert str(CHAT) not in heard.spool.read_text()
        await asyncio.sleep(1.5)  # Telegram redelivers the unconfirmed update meanwhile
    await heard.slack.async_wait_for(lambda: heard.duty(HURT), timeout=15)
    await heard.slack.async_wait_for(lambda: not heard.spool.exists(), timeout=10)
    await asyncio.sleep(1.5)  # the spool drained and the redelivery was processed
    assert len(heard.alerts()) == 1
    assert len(heard.duty(HURT)) == 1
    (alert,) = heard.alerts()
    assert alert.respondent_id is not None, "linked to the family's case"


async def test_slack_database_down_answers_500_help_at_once_alert_exactly_once(
    heard: Running,
) -> None:
    await _slack_family(heard)
    seen = len(heard.slack_dm())
    with heard.database_down():
        assert await heard.slack_write(HURT, "EvDOWN0042") == 500
        await heard.slack.async_wait_for(lambda: len(heard.slack_dm()) > seen, timeout=10)
        assert "call 999" in heard.slack_dm()[seen]["text"]
        assert heard.spool.exists()
    await heard.slack.async_wait_for(lambda: heard.duty(HURT), timeout=15)
    assert await heard.slack_write(HURT, "EvDOWN0042", retry=1) == 200  # Slack's retry
    await asyncio.sleep(1.5)
    assert len(heard.alerts()) == 1
    assert len(heard.duty(HURT)) == 1
