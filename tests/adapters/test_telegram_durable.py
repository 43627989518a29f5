"""Nothing lost on Telegram: replies wait out an outage in the outbox, a
staff press that could not be stored is not confirmed (so it comes again),
webhook mode refuses to run without a secret, and "hide this chat" forgets
message ids once Telegram would no longer delete them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from adapters.telegram import TelegramChannel
from adapters.telegram.channel import RECENT_FOR
from bot.core.errors import ConfigError, StorageError
from storage.models import OutboxMessage
from tests.adapters.telegram_harness import Heard, reply_after, telegram_config
from tests.fakes.telegram_api import FakeTelegram

CHAT = 7401


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def _outbox(heard: Heard) -> list[tuple[str, str]]:
    with heard.app.sessions() as s:
        return [
            (m.kind, m.status) for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


async def test_a_reply_waits_out_an_outage_in_the_outbox_and_survives_a_restart(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        tg.fail_next("sendMessage", 502, count=1000)
        tg.user_taps(CHAT, "Yes, let's start")
        await tg.wait_for_async(
            lambda: any(c["status"] == 502 for c in tg.calls("sendMessage")), timeout=10
        )
        # The step is stored and so is its reply, which has not gone yet.
        await tg.wait_for_async(
            lambda: _outbox(heard) == [("reply", "sent"), ("reply", "claimed")], timeout=5
        )
    tg.clear_faults()
    assert _outbox(heard)[-1] == ("reply", "pending")
    before = tg.sent_count(CHAT)
    async with Heard(db_url, tg) as again:
        sent = await tg.wait_for_async(
            lambda: tg.sent(CHAT)[before:] or None, timeout=15, message="the held reply"
        )
        assert "(1 of" in (sent[0]["text"] or "")
        await tg.wait_for_async(lambda: _outbox(again)[-1] == ("reply", "sent"), timeout=10)
    assert tg.sent_count(CHAT) == before + 1


async def test_an_acknowledge_that_could_not_be_stored_is_not_confirmed(
    db_url: str, tg: FakeTelegram
) -> None:
    presses: list[str] = []
    down = {"now": True}

    async def on_ack(user: str, value: str, chat: str, ref: str) -> None:
        presses.append(value)
        if down["now"]:
            raise StorageError("the database is not available")

    async with Heard(db_url, tg) as heard:
        heard.channel.add_action_handler("alert:ack:", on_ack)
        tg.user_presses(-100500, 42, "alert:ack:7")
        await tg.wait_for_async(lambda: len(presses) >= 2, timeout=10, message="a redelivery")
        assert tg.calls("answerCallbackQuery") == []
        down["now"] = False
        await tg.wait_for_async(lambda: tg.calls("answerCallbackQuery") or None, timeout=10)
        await asyncio.sleep(0.3)
        assert len(tg.calls("answerCallbackQuery")) == 1


def test_webhook_mode_refuses_an_empty_secret(tg: FakeTelegram) -> None:
    config = replace(telegram_config(tg), mode="webhook", webhook_url="https://x.example/hook")
    with pytest.raises(ConfigError, match="secret_token_env"):
        TelegramChannel(config, tg.token, webhook_secret="")


def test_hide_this_chat_forgets_message_ids_after_48_hours(tg: FakeTelegram) -> None:
    now = {"t": 1000.0}
    channel = TelegramChannel(telegram_config(tg), tg.token, monotonic=lambda: now["t"])
    channel._remember("1", 10)
    now["t"] += RECENT_FOR - 60
    channel._remember("1", 11)
    channel._remember("2", 20)
    assert channel.remembered("1") == [10, 11]
    now["t"] += 120
    assert channel.remembered("1") == [11]
    now["t"] += RECENT_FOR
    channel._remember("3", 30)  # a later message sweeps out the old chats
    assert channel.remembered("1") == [] and channel.remembered("2") == []
    assert set(channel._recent) == {"3"}
