"""A family answers in Telegram: the real python-telegram-bot against a fake
Bot API on 127.0.0.1, Heard's storage on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from sqlalchemy import select

from bot.core import questions
from bot.core.errors import ConfigError, StorageError
from storage.models import FollowUp
from tests.adapters.telegram_harness import WEBHOOK_SECRET, Heard, free_port, reply_after
from tests.fakes.telegram_api import FakeTelegram

ADULT = questions.get("adult")
CHAT = 7001


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


async def answer_everything(tg: FakeTelegram, chat: int = CHAT) -> str:
    last = ""
    for q in ADULT.questions:
        if q.kind.value == "text":
            last = await reply_after(tg, chat, lambda: tg.user_sends_text(chat, "Very patient"))
        else:
            label = q.labels["en"][1]
            last = await reply_after(tg, chat, lambda label=label: tg.user_taps(chat, label))
    return last


async def test_whole_survey_over_polling_from_an_invite_link(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        consent = await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        assert "2 minutes" in consent
        assert [t for t, _ in tg.last_keyboard(CHAT)] == ["Yes, let's start", "No, thanks"]
        first = await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        assert f"(1 of {len(ADULT.questions)})" in first
        thanks = await answer_everything(tg)
        assert "Thank you" in thanks
        assert len(heard.answers()) == len(ADULT.questions)
        pressed = tg.message(CHAT, tg.sent(CHAT)[0]["message_id"])
        assert pressed is not None and "✓ Yes, let's start" in pressed["text"]
        assert not pressed.get("reply_markup")
    names = {c["command"] for c in tg.commands or []}
    assert names == {"help", "stop", "forget", "language"}


async def test_whole_survey_over_webhook(db_url: str, tg: FakeTelegram) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with Heard(db_url, tg, mode="webhook", webhook_url=url, port=port) as heard:
        assert tg.webhook and tg.webhook["url"] == url
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        assert "Thank you" in await answer_everything(tg)
        assert len(heard.answers()) == len(ADULT.questions)
        deliveries = tg.webhook_deliveries
        assert deliveries, "nothing came over the webhook"
        assert {(d["secret_token"], d["status"]) for d in deliveries} == {(WEBHOOK_SECRET, 200)}


async def test_webhook_refuses_a_missing_or_wrong_secret(db_url: str, tg: FakeTelegram) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    update = {
        "update_id": 999,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Sam"},
            "text": "hello",
        },
    }
    async with Heard(db_url, tg, mode="webhook", webhook_url=url, port=port) as heard:
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 403
            async with http.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            ) as resp:
                assert resp.status == 400
        with heard.app.sessions() as s:
            from storage import repo

            assert not repo.was_processed(s, "telegram", "999")
        assert tg.sent(CHAT) == []


async def test_an_update_delivered_twice_is_handled_once(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        label = ADULT.questions[0].labels["en"][4]
        update_ids: list[int] = []
        await reply_after(tg, CHAT, lambda: update_ids.append(tg.user_taps(CHAT, label)))
        sent_before = tg.sent_count(CHAT)
        tg.redeliver(update_ids[0])
        await tg.wait_for_async(lambda: tg.pending_update_count == 0, timeout=5)
        await asyncio.sleep(0.3)
        assert heard.answers() == [(ADULT.questions[0].id, "5")]
        assert tg.sent_count(CHAT) == sent_before


async def test_kill_and_restart_mid_survey_loses_nothing(db_url: str, tg: FakeTelegram) -> None:
    heard = Heard(db_url, tg)
    await heard.runtime.start()
    token = heard.invite()
    await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
    await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
    await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, ADULT.questions[0].labels["en"][1]))
    # Kill: the poller dies without a goodbye; nothing is shut down cleanly.
    assert heard.channel._poller is not None
    heard.channel._poller.cancel()
    await asyncio.sleep(0.1)
    heard.app.close()
    # While Heard is down the family answers the next question.
    tg.user_taps(CHAT, ADULT.questions[1].labels["en"][2])

    again = Heard(db_url, tg)
    async with again:
        await tg.wait_for_async(lambda: len(again.answers()) == 2, timeout=10)
        text = await tg.wait_for_async(
            lambda: any("(3 of" in (m["text"] or "") for m in tg.sent(CHAT)), timeout=10
        )
        assert text
        assert [q for q, _ in again.answers()] == [q.id for q in ADULT.questions[:2]]


async def test_429_is_honoured_and_the_message_still_arrives_once(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        tg.fail_next("sendMessage", 429, retry_after=1)
        consent = await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        assert "2 minutes" in consent
        await asyncio.sleep(0.2)
        assert tg.sent_count(CHAT) == 1
        assert [c["status"] for c in tg.calls("sendMessage")][:2] == [429, 200]


async def test_5xx_and_network_errors_are_retried(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        tg.fail_next("sendMessage", 502, count=2)
        consent = await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        assert "2 minutes" in consent and tg.sent_count(CHAT) == 1


async def test_a_family_that_blocked_the_bot_is_marked_unreachable(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        tg.block_chat(CHAT)
        tg.user_taps(CHAT, ADULT.questions[0].labels["en"][0])
        await tg.wait_for_async(lambda: heard.respondent_status() == ["unreachable"], timeout=10)
        with heard.app.sessions() as s:
            statuses = set(s.scalars(select(FollowUp.status)))
        assert statuses == {"cancelled"}
        assert len(heard.answers()) == 1


async def test_forged_and_stale_button_data_never_store_an_answer(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        question = tg.last_keyboard_message(CHAT)
        assert question is not None
        for data in ("q1.4:5", "q9.0:1", "cmd:drop-tables", "x" * 64, "q1.0:99"):
            text = await reply_after(
                tg,
                CHAT,
                lambda data=data: tg.user_presses(CHAT, question["message_id"], data),
                count=2,
            )
            assert "earlier question" in text
        assert heard.answers() == []


async def test_a_sticker_a_voice_note_and_an_edit_get_a_kind_reply(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        for act in (
            lambda: tg.user_sends_sticker(CHAT),
            lambda: tg.user_sends_voice(CHAT),
            lambda: tg.user_edits_text(CHAT, 1, "changed my mind"),
        ):
            text = await reply_after(tg, CHAT, act, count=2)
            assert "only read typed words" in text and "(1 of" in text
        assert heard.answers() == []


async def test_start_without_a_token_asks_for_the_code(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg):
        text = await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT))
        assert "type the code" in text
        text = await reply_after(tg, CHAT, lambda: tg.user_sends_text(CHAT, "ZZZZ-9999"))
        assert "can't find that code" in text


async def test_a_database_outage_delays_but_does_not_lose_an_update(
    db_url: str, tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        real = heard.app.conversation.handle
        calls = {"n": 0}

        def flaky(inbound: object) -> object:
            calls["n"] += 1
            if calls["n"] <= 2:
                raise StorageError("the database is not available")
            return real(inbound)  # type: ignore[arg-type]

        monkeypatch.setattr(heard.app.conversation, "handle", flaky)
        tg.user_sends_start(CHAT, token)
        await tg.wait_for_async(
            lambda: any("2 minutes" in (m["text"] or "") for m in tg.sent(CHAT)), timeout=15
        )
        texts_sent = [m["text"] for m in tg.sent(CHAT)]
        assert sum("went wrong on our side" in (t or "") for t in texts_sent) == 1
        assert calls["n"] == 3


async def test_a_rejected_token_stops_start_up_with_the_key_to_fix(
    db_url: str, tg: FakeTelegram
) -> None:
    heard = Heard(db_url, tg)
    heard.channel.token = "123:not-the-right-token"
    with pytest.raises(ConfigError, match=r"\[telegram\] token_env"):
        await heard.runtime.start()
    heard.app.close()


async def test_hide_this_chat_deletes_what_telegram_allows(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await reply_after(tg, CHAT, lambda: tg.user_sends_start(CHAT, token))
        await reply_after(tg, CHAT, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        await reply_after(tg, CHAT, lambda: tg.user_sends_text(CHAT, "help"), count=2)
        help_message = next(m for m in tg.sent(CHAT) if "HIDE" in (m["text"] or ""))
        text = await reply_after(
            tg, CHAT, lambda: tg.user_presses(CHAT, help_message["message_id"], "cmd:hide")
        )
        assert "delete the whole chat" in text
        deleted = {m for c, m in tg.deleted if int(c) == CHAT}
        sent_before_hide = {m["message_id"] for m in tg.sent(CHAT)[:-1]}
        assert sent_before_hide <= deleted
        assert len(deleted) > len(sent_before_hide)
