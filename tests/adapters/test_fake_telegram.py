"""The fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.fakes.telegram_api import FakeTelegram

CHAT = 4242

# PTB 22 warns whenever a RetryAfter is built (int -> timedelta migration); not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(tg.token, base_url=tg.base_url) as client:
        yield client


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in pairs]])


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates int retry_after (PTB_TIMEDELTA)
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that fails its first ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        if len(self.requests) <= self.fail_first:
            return web.Response(status=500)
        return web.Response(text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


# -- basics ---------------------------------------------------------------------------------


async def test_get_me_and_base_url_form(tg: FakeTelegram, bot: telegram.Bot) -> None:
    assert tg.base_url.endswith("/bot")
    assert bot.base_url == f"{tg.base_url}{tg.token}"
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == tg.bot_username
    assert me.id == tg.bot_id
    assert [c["method"] for c in tg.calls()] == ["getMe", "getMe"]  # initialize() + get_me()


async def test_wrong_token_is_rejected(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with telegram.Bot("999:WRONG-token", base_url=tg.base_url):
            pass
    assert tg.calls("getMe")[-1]["status"] == 401


async def test_unknown_method_is_404(tg: FakeTelegram, bot: telegram.Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicateMessage", api_kwargs={"chat_id": CHAT})
    assert tg.calls("frobnicateMessage")[0]["status"] == 404


async def test_send_message_with_keyboard(tg: FakeTelegram, bot: telegram.Bot) -> None:
    first = await bot.send_message(CHAT, "How was it?", reply_markup=keyboard(("Good", "q1:good")))
    second = await bot.send_message(
        CHAT, "And now?", reply_markup=keyboard(("Yes", "q2:yes"), ("No", "q2:no"))
    )
    other = await bot.send_message(CHAT + 1, "hello")

    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.from_user is not None and first.from_user.id == tg.bot_id
    assert first.chat.id == CHAT
    assert first.reply_markup == keyboard(("Good", "q1:good"))
    assert tg.last_keyboard(CHAT) == [("Yes", "q2:yes"), ("No", "q2:no")]
    assert tg.last_keyboard(CHAT + 1) == []

    sent = tg.sent(CHAT)
    assert [s["text"] for s in sent] == ["How was it?", "And now?"]
    assert [s["message_id"] for s in sent] == [1, 2]
    assert sent[0]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Good", "callback_data": "q1:good"}]]
    }
    assert sent[0]["t"] <= sent[1]["t"]
    assert tg.texts() == ["How was it?", "And now?", "hello"]

    # Editing the text without reply_markup removes the keyboard, like Telegram does.
    await bot.edit_message_text("Thanks", chat_id=CHAT, message_id=second.message_id)
    assert tg.last_keyboard(CHAT) == [("Good", "q1:good")]
    await bot.edit_message_reply_markup(chat_id=CHAT, message_id=first.message_id)
    assert tg.last_keyboard(CHAT) == []
    assert [e["method"] for e in tg.edits] == ["editMessageText", "editMessageReplyMarkup"]

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Thanks", chat_id=CHAT, message_id=second.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=99)

    assert await bot.delete_message(CHAT, first.message_id)
    assert tg.deleted == [(CHAT, first.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, first.message_id)


async def test_markup_is_checked_like_telegram(tg: FakeTelegram, bot: telegram.Bot) -> None:
    msg = await bot.send_message(CHAT, "<b>Hi</b> &amp; bye", parse_mode="HTML")
    assert msg.text == "Hi & bye"
    assert tg.sent(CHAT)[0]["text"] == "<b>Hi</b> &amp; bye"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, "1 < 2 <br>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await bot.send_message(CHAT, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard(("A", "x" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "")
    assert len(tg.sent(CHAT)) == 1


async def test_commands_and_misc_methods(tg: FakeTelegram, bot: telegram.Bot) -> None:
    await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert tg.commands == [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Help"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with open(__file__, "rb") as fh:
        doc = await bot.send_document(CHAT, fh, caption="source")
    assert doc.document is not None and doc.document.file_name == "test_fake_telegram.py"
    assert tg.sent(CHAT)[-1]["file"]["size"] > 100
    assert await bot.send_chat_action(CHAT, "typing")
    assert await bot.log_out()
    assert await bot.close()


# -- updates --------------------------------------------------------------------------------


async def test_get_updates_offset_confirms(tg: FakeTelegram, bot: telegram.Bot) -> None:
    u1 = tg.user_sends_start(CHAT, "INVITE123")
    u2 = tg.user_sends_text(CHAT, "hello", first_name="Ana", language_code="pt")
    assert u2 == u1 + 1
    assert tg.pending_update_count == 2

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [u1, u2]
    start = updates[0].message
    assert start is not None and start.text == "/start INVITE123"
    assert start.entities[0].type == "bot_command"
    assert (start.entities[0].offset, start.entities[0].length) == (0, len("/start"))
    assert start.message_id == 1
    hello = updates[1].message
    assert hello is not None and hello.from_user is not None
    assert (hello.from_user.first_name, hello.from_user.language_code) == ("Ana", "pt")
    assert not hello.entities

    # Without an offset nothing is confirmed: the same updates come back.
    assert [u.update_id for u in await bot.get_updates()] == [u1, u2]
    # Confirming u1 drops it forever, even for later calls without offset.
    assert [u.update_id for u in await bot.get_updates(offset=u1 + 1)] == [u2]
    assert [u.update_id for u in await bot.get_updates()] == [u2]
    assert [u.update_id for u in await bot.get_updates(offset=u2 + 1)] == []
    assert tg.pending_update_count == 0

    u3 = tg.user_sends_text(CHAT, "more")
    tg.user_sends_sticker(CHAT)
    tg.user_sends_voice(CHAT)
    tg.user_sends_photo(CHAT, caption="look")
    tg.user_edits_text(CHAT, 2, "hello again")
    updates = await bot.get_updates(offset=u3, limit=2)
    assert [u.update_id for u in updates] == [u3, u3 + 1]
    updates = await bot.get_updates(offset=u3 + 2)
    assert updates[0].message is not None and updates[0].message.voice is not None
    assert updates[1].message is not None and updates[1].message.caption == "look"
    assert updates[1].message.photo
    edited = updates[2].edited_message
    assert edited is not None and edited.message_id == 2 and edited.text == "hello again"


async def test_redeliver_repeats_a_confirmed_update(tg: FakeTelegram, bot: telegram.Bot) -> None:
    u1 = tg.user_sends_text(CHAT, "once")
    await bot.get_updates(offset=u1 + 1)  # confirmed
    tg.redeliver(u1)
    u2 = tg.user_sends_text(CHAT, "twice?")
    updates = await bot.get_updates(offset=u1 + 1)
    assert [u.update_id for u in updates] == [u1, u2]
    assert await bot.get_updates(offset=u2 + 1) == ()


async def test_long_poll_wakes_on_new_message(tg: FakeTelegram, bot: telegram.Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    # From another thread, as sync test code would do it.
    threading.Thread(target=tg.user_sends_text, args=(CHAT, "wake up")).start()
    updates = await asyncio.wait_for(poll, 3)
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 2

    started = time.monotonic()
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0.3) == ()
    assert 0.25 < time.monotonic() - started < 2


async def test_second_bot_instance_polling_conflicts(tg: FakeTelegram, bot: telegram.Bot) -> None:
    # PTB's getUpdates connection pool has size 1, so a second concurrent poll needs a second
    # Bot - which is exactly the "two instances running" case Telegram answers with 409.
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    async with telegram.Bot(tg.token, base_url=tg.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=5))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await asyncio.wait_for(first, 3)
        tg.user_sends_text(CHAT, "hi")
        assert len(await asyncio.wait_for(second, 3)) == 1


async def test_callback_query_round_trip(tg: FakeTelegram, bot: telegram.Bot) -> None:
    sent = await bot.send_message(
        CHAT, "Pick one", reply_markup=keyboard(("Good", "q:good"), ("Bad", "q:bad"))
    )
    update_id = tg.user_taps(CHAT, "Bad")
    (update,) = await bot.get_updates(offset=update_id)
    query = update.callback_query
    assert query is not None and query.data == "q:bad"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.from_user.id == CHAT

    assert await query.answer("Noted")
    assert tg.callback_answer(update_id) is not None
    assert tg.callback_answers[0]["text"] == "Noted"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()  # a query can be answered once

    await query.edit_message_text("You picked: Bad")
    assert tg.message(CHAT, sent.message_id)["text"] == "You picked: Bad"  # type: ignore[index]
    assert tg.last_keyboard(CHAT) == []

    # A press on an explicit message id works too.
    second = tg.user_presses(CHAT, sent.message_id, "q:good")
    (update,) = await bot.get_updates(offset=second)
    assert update.callback_query is not None and update.callback_query.data == "q:good"


# -- faults -----------------------------------------------------------------------------------


async def test_injected_429_surfaces_as_retry_after(tg: FakeTelegram, bot: telegram.Bot) -> None:
    tg.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "hi")
    assert retry_after_seconds(info.value) == 7
    assert tg.sent(CHAT) == []
    await bot.send_message(CHAT, "hi")  # only the next call failed
    assert tg.texts(CHAT) == ["hi"]
    assert [c["status"] for c in tg.calls("sendMessage")] == [429, 200]


async def test_forbidden_and_server_errors(tg: FakeTelegram, bot: telegram.Bot) -> None:
    tg.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    tg.unblock_chat(CHAT)
    await bot.send_message(CHAT, "hi")

    tg.fail_next("sendMessage", 403)
    with pytest.raises(Forbidden):
        await bot.send_message(CHAT, "hi")
    tg.fail_next("sendMessage", 502, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "hi")
    tg.fail_next("sendMessage", 500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(CHAT, "hi")
    tg.drop_connection_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "lost")
    tg.drop_connection_next("sendMessage", after=True)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "sent but unacknowledged")
    assert tg.texts(CHAT) == ["hi", "sent but unacknowledged"]


async def test_per_chat_rate_limit() -> None:
    with FakeTelegram(rate_limit_per_chat=1.0, burst_per_chat=3) as tg:
        async with telegram.Bot(tg.token, base_url=tg.base_url) as bot:
            outcomes = []
            for i in range(5):
                try:
                    await bot.send_message(CHAT, f"m{i}")
                    outcomes.append("ok")
                except RetryAfter as exc:
                    assert retry_after_seconds(exc) == 1
                    outcomes.append("429")
            assert outcomes == ["ok", "ok", "ok", "429", "429"]
            await bot.send_message(CHAT + 1, "other chats have their own bucket")
            assert tg.too_many_requests_count == 2
            assert tg.texts(CHAT) == ["m0", "m1", "m2"]
            await asyncio.sleep(1.05)  # one token refilled
            await bot.send_message(CHAT, "m5")
            with pytest.raises(RetryAfter):
                await bot.send_message(CHAT, "m6")
            assert tg.too_many_requests_count == 3


async def test_overall_rate_limit_sliding_window() -> None:
    with FakeTelegram(rate_limit_overall=5) as tg:
        async with telegram.Bot(tg.token, base_url=tg.base_url) as bot:
            results = await asyncio.gather(
                *(bot.send_message(1000 + i, "x") for i in range(8)), return_exceptions=True
            )
            assert sum(isinstance(r, RetryAfter) for r in results) == 3
            assert tg.too_many_requests_count == 3
            assert len(tg.sent()) == 5
            await bot.get_me()  # not a send: never limited
            await asyncio.sleep(1.05)
            await bot.send_message(1, "window slid")
            assert len(tg.sent()) == 6


# -- webhook ----------------------------------------------------------------------------------


async def test_webhook_delivery_with_secret_and_retry(tg: FakeTelegram, bot: telegram.Bot) -> None:
    early = tg.user_sends_text(CHAT, "queued before the webhook")
    async with Receiver(fail_first=1) as receiver:
        assert await bot.set_webhook(receiver.url, secret_token="s3cret-token")
        later = tg.user_sends_text(CHAT, "after")
        await tg.wait_for_async(lambda: tg.pending_update_count == 0)

        bodies = [body for _, body in receiver.requests]
        # The first attempt for `early` got a 500 and was retried; order per chat is kept.
        assert [b["update_id"] for b in bodies] == [early, early, later]
        assert bodies[2]["message"]["text"] == "after"
        assert all(
            h["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-token" for h, _ in receiver.requests
        )
        assert [d["status"] for d in tg.webhook_deliveries] == [500, 200, 200]

        info = await bot.get_webhook_info()
        assert info.url == receiver.url
        assert info.pending_update_count == 0
        assert info.last_error_message is not None
        assert tg.webhook is not None and tg.webhook["secret_token"] == "s3cret-token"

        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()

        assert await bot.delete_webhook()
        assert tg.webhook is None
        tg.user_sends_text(CHAT, "polling again")
        assert len(await bot.get_updates()) == 1
        tg.user_sends_text(CHAT, "dropped")
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == ()


# -- a real PTB Application -------------------------------------------------------------------


async def test_application_polling_echo(tg: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            tg.user_sends_text(CHAT, "one")
            tg.user_sends_text(CHAT, "two")
            await tg.wait_sent_async(CHAT, 2)
        finally:
            await app.updater.stop()
            await app.stop()
    assert tg.texts(CHAT) == ["echo: one", "echo: two"]
    assert tg.calls("deleteWebhook")  # PTB's polling bootstrap
    assert tg.pending_update_count == 0  # the updater confirms on stop


def test_sync_usage_and_wait_for_timeout() -> None:
    with FakeTelegram() as tg:
        results: list[Any] = []

        def run_bot() -> None:
            async def main() -> None:
                async with telegram.Bot(tg.token, base_url=tg.base_url) as bot:
                    updates = await bot.get_updates(timeout=5)
                    for update in updates:
                        assert update.message is not None
                        results.append(await bot.send_message(update.message.chat.id, "got it"))

            asyncio.run(main())

        worker = threading.Thread(target=run_bot)
        worker.start()
        tg.user_sends_text(7, "hi")
        assert tg.wait_sent(7, 1)[0]["text"] == "got it"
        worker.join(5)
        with pytest.raises(AssertionError, match="2 message"):
            tg.wait_sent(7, 2, timeout=0.1)
