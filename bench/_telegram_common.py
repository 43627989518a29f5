"""Shared parts of the Telegram benchmarks: a fake Bot API that tells the driver
when a reply arrives, a closed-loop driver for simulated families, and the
minimal python-telegram-bot echo bot used as the framework's own limit.

The fake (``tests/fakes/telegram_api.py``) runs its aiohttp server on a
background thread with its own event loop. The families run as coroutines on
that same loop, so recording a bot's reply and waking the family that waits
for it is one in-thread future, not a cross-thread round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import RATE_LIMITED_METHODS, FakeTelegram  # noqa: E402

T = TypeVar("T")

#: The sends the fake rate-limits and Heard paces (what figure (b) counts); in this
#: conversation Heard only uses sendMessage and editMessageText of them.
SEND_METHODS = RATE_LIMITED_METHODS


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the bot sent, as the fake recorded it."""

    t: float  # time.monotonic() at the fake
    message_id: int
    markup: dict[str, Any] | None


class BenchTelegram(FakeTelegram):
    """The test fake plus three hooks: wake the family waiting for a reply,
    keep a timeline of every accepted send, and notice the first getUpdates."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiters: dict[int | str, asyncio.Future[Reply]] = {}
        self.timeline: list[tuple[float, str]] = []  # (t, method) of accepted sends
        self.polling = threading.Event()

    def __enter__(self) -> BenchTelegram:
        self.start()
        return self

    # hooks (called on the server loop, with the fake's lock held) ---------------------

    def _record_sent_locked(
        self, method: str, chat_id: int | str, message: dict[str, Any], params: dict[str, Any]
    ) -> None:
        super()._record_sent_locked(method, chat_id, message, params)
        t = self._sent[-1]["t"]
        self.timeline.append((t, method))
        waiter = self.waiters.pop(chat_id, None)
        if waiter is not None and not waiter.done():
            markup = params.get("reply_markup")
            waiter.set_result(
                Reply(t, int(message["message_id"]), markup if isinstance(markup, dict) else None)
            )

    def _record_edit_locked(
        self, method: str, message: dict[str, Any], params: dict[str, Any]
    ) -> None:
        super()._record_edit_locked(method, message, params)
        self.timeline.append((self._edits[-1]["t"], method))

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polling.set()
        return await super()._get_updates(params)

    # running coroutines on the server loop -------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the fake is not started")
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the fake's loop and wait for its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def sends_between(self, start: float, end: float) -> int:
        return sum(1 for t, m in self.timeline if start <= t < end and m in SEND_METHODS)

    def max_sends_in_one_second(self) -> int:
        """The most accepted sends in any window (t - 1 s, t] (the fake's own rule)."""
        times = sorted(t for t, m in self.timeline if m in SEND_METHODS)
        best = lo = 0
        for hi, t in enumerate(times):
            while times[lo] <= t - 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best


# -- the families --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """One thing a family does: ``start`` (``/start TOKEN``), ``tap`` (press the
    button labelled `label` on the last message; the second button if `label`
    is None) or ``type`` (send `text`). `answer` marks the moves that store an answer."""

    kind: str
    label: str | None = None
    text: str = ""
    answer: bool = False


@dataclass
class DriveResult:
    families: int
    started: float = 0.0  # monotonic time of the first move
    finished: float = 0.0  # time of the last reply
    moves: int = 0  # moves that got their reply
    answers: int = 0  # answer moves that got their reply
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    completed_families: int = 0

    @property
    def wall(self) -> float:
        return max(self.finished - self.started, 1e-9)


def _pick(markup: dict[str, Any] | None, label: str | None) -> str:
    buttons = [b for row in (markup or {}).get("inline_keyboard", []) for b in row]
    if not buttons:
        raise AssertionError("the last reply has no keyboard to tap")
    if label is None:
        chosen = buttons[1] if len(buttons) > 1 else buttons[0]
        return str(chosen["callback_data"])
    for button in buttons:
        if button.get("text") == label:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label!r}; have {[b.get('text') for b in buttons]}")


async def drive(
    tg: BenchTelegram,
    chats: Sequence[int],
    tokens: Sequence[str],
    plan: Sequence[Move],
    *,
    duration: float | None = None,
    reply_timeout: float = 60.0,
) -> DriveResult:
    """Run every family through `plan` at once, each waiting for the bot's reply
    before its next move (a closed loop). Runs on the fake's loop.

    Latency of a move: from just before the user's update is queued at the fake
    to the moment the fake accepts the bot's reply message (sendMessage) to that
    chat. With `duration`, families are stopped after that many seconds."""
    loop = asyncio.get_running_loop()
    result = DriveResult(families=len(chats))

    async def family(chat: int, token: str) -> None:
        last: Reply | None = None
        for move in plan:
            waiter: asyncio.Future[Reply] = loop.create_future()
            tg.waiters[chat] = waiter
            t0 = time.monotonic()
            if move.kind == "start":
                tg.user_sends_start(chat, token)
            elif move.kind == "tap":
                assert last is not None
                tg.user_presses(chat, last.message_id, _pick(last.markup, move.label))
            else:
                tg.user_sends_text(chat, move.text)
            try:
                last = await asyncio.wait_for(waiter, reply_timeout)
            except TimeoutError:
                result.timeouts += 1
                return
            result.latencies.append(last.t - t0)
            result.moves += 1
            result.answers += move.answer
            result.finished = max(result.finished, last.t)
        result.completed_families += 1

    result.started = time.monotonic()
    tasks = [asyncio.create_task(family(c, k)) for c, k in zip(chats, tokens, strict=True)]
    if duration is None:
        await asyncio.gather(*tasks)
    else:
        await asyncio.wait(tasks, timeout=duration)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    tg.waiters.clear()
    return result


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


# -- the echo bot (runs in its own process) ---------------------------------------------------

ECHO_QUESTION = "(1 of 10) Does your social worker tell you the truth?"
ECHO_LABELS = ("😞 Never", "🙁 Not often", "😐 Sometimes", "🙂 Often", "😀 Always")


def run_echo_bot(base_url: str, token: str, concurrency: int = 1) -> None:
    """A minimal PTB 22 bot: the standard Application + Updater (long polling),
    one MessageHandler and one CallbackQueryHandler. `concurrency` 1 keeps PTB's
    default (updates handled one at a time); more sets `concurrent_updates`.

    It makes the same Bot API calls per update as Heard's Telegram channel:
    a message gets one sendMessage (a question-sized text with a 5-button
    keyboard); a button press gets answerCallbackQuery, editMessageText (the
    pressed message with "✓ label", keyboard removed) and one sendMessage."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (
        Application,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=f"q1.0:{n}")]
            for n, label in enumerate(ECHO_LABELS, 1)
        ]
    )

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None:
            await context.bot.send_message(chat.id, ECHO_QUESTION, reply_markup=keyboard)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        with contextlib.suppress(Exception):
            await query.answer()
        message = query.message
        markup = getattr(message, "reply_markup", None)
        rows = markup.inline_keyboard if markup is not None else ()
        label = next((b.text for row in rows for b in row if b.callback_data == query.data), "?")
        text = getattr(message, "text", None) or ECHO_QUESTION
        await context.bot.edit_message_text(
            f"{text}\n\n✓ {label}", chat_id=message.chat.id, message_id=message.message_id
        )
        await context.bot.send_message(message.chat.id, ECHO_QUESTION, reply_markup=keyboard)

    app = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_url.removesuffix("/bot") + "/file/bot")
        .concurrent_updates(concurrency if concurrency > 1 else False)
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, on_message))
    app.add_handler(CallbackQueryHandler(on_button))
    app.run_polling(allowed_updates=["message", "edited_message", "callback_query"])


def run_conventional_bot(base_url: str, token: str, pickle_path: str) -> None:
    """The survey as a conventional PTB 22 bot would be written: a
    `ConversationHandler` with `PicklePersistence` (persistent conversations
    and user_data), the Updater's long polling, updates one at a time. Same
    consent, same questions, same buttons and the same calls per step as
    Heard (answerCallbackQuery, editMessageText "✓ label", sendMessage).
    Answers are kept in user_data, written to the pickle file on PTB's
    schedule, not durably per answer: that is what such a bot gives."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (
        Application,
        CallbackQueryHandler,
        CommandHandler,
        ContextTypes,
        ConversationHandler,
        MessageHandler,
        PicklePersistence,
        filters,
    )

    from bot.core import questions

    adult = questions.get("adult")
    consent_keys = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes, let's start", callback_data="c:yes")],
            [InlineKeyboardButton("No, thanks", callback_data="c:no")],
        ]
    )
    total = len(adult.questions)
    CONSENT, ASKING = range(2)

    def question(n: int) -> tuple[str, InlineKeyboardMarkup | None]:
        q = adult.questions[n]
        text = f"({n + 1} of {total}) {q.text['en']}"
        labels = q.labels.get("en") or ()
        if not labels:
            return text, None
        rows = [
            [InlineKeyboardButton(label, callback_data=f"q{n}:{code}")]
            for code, label in zip(q.codes, labels, strict=True)
        ]
        return text, InlineKeyboardMarkup(rows)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.effective_chat is not None and context.user_data is not None
        context.user_data["answers"] = {}
        await context.bot.send_message(
            update.effective_chat.id, adult.consent["en"], reply_markup=consent_keys
        )
        return CONSENT

    async def settle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        with contextlib.suppress(Exception):
            await query.answer()
        message = query.message
        markup = getattr(message, "reply_markup", None)
        rows = markup.inline_keyboard if markup is not None else ()
        label = next((b.text for row in rows for b in row if b.callback_data == query.data), "?")
        text = getattr(message, "text", None) or ""
        await context.bot.edit_message_text(
            f"{text}\n\n✓ {label}", chat_id=message.chat.id, message_id=message.message_id
        )

    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE, n: int) -> int:
        assert update.effective_chat is not None and context.user_data is not None
        if n >= total:
            await context.bot.send_message(update.effective_chat.id, adult.thanks["en"])
            return ConversationHandler.END
        context.user_data["index"] = n
        text, keys = question(n)
        await context.bot.send_message(update.effective_chat.id, text, reply_markup=keys)
        return ASKING

    async def consented(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await settle(update, context)
        return await ask(update, context, 0)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.callback_query is not None and context.user_data is not None
        n = int(context.user_data.get("index", 0))
        data = update.callback_query.data or ""
        await settle(update, context)
        if data.startswith(f"q{n}:"):
            context.user_data["answers"][adult.questions[n].id] = data.split(":", 1)[1]
            n += 1
        return await ask(update, context, n)

    async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None and context.user_data is not None
        n = int(context.user_data.get("index", 0))
        context.user_data["answers"][adult.questions[n].id] = update.message.text or ""
        return await ask(update, context, n + 1)

    survey = ConversationHandler(
        entry_points=[CommandHandler("start", start)],
        states={
            CONSENT: [CallbackQueryHandler(consented)],
            ASKING: [
                CallbackQueryHandler(pressed),
                MessageHandler(filters.TEXT & ~filters.COMMAND, typed),
            ],
        },
        fallbacks=[CommandHandler("start", start)],
        name="survey",
        persistent=True,
    )
    app = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_url.removesuffix("/bot") + "/file/bot")
        .persistence(PicklePersistence(filepath=pickle_path))
        .build()
    )
    app.add_handler(survey)
    app.run_polling(allowed_updates=["message", "edited_message", "callback_query"])
