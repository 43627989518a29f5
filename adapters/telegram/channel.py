"""The Telegram channel: a thin owner of a python-telegram-bot `Application`.

Updates are acknowledged to Telegram only after Heard has stored them. In
polling mode that is why Heard runs its own `getUpdates` loop instead of PTB's
Updater (which confirms an update as soon as it is fetched): the offset moves
past an update only once the service committed it, so a crash or a database
outage never loses one, and the service's dedupe table makes a redelivery
harmless. In webhook mode the HTTP answer is sent after the update is stored;
if the database is down the answer is 500 and Telegram delivers it again.

Replies: the runtime stores them in the outbox with the update and sends them
through `send`, so the next question costs one paced call on the critical
path. The pressed question's keyboard is taken away (and the choice shown)
only if the chat can afford it now without delaying anything (`Pacer.try_take`
keeps a token back for the next question); when the chat is behind, after a
429 for example, that cosmetic edit is dropped. The choice is confirmed at
once all the same, in the answer to the callback query (which Telegram does
not count against the chat). Stale buttons are answered kindly by the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from telegram import BotCommand, InputFile, Message, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder

from adapters.ordering import ChatOrder, Turn
from adapters.pacing import Pacer
from adapters.telegram.convert import PLATFORM, chosen_label, render, to_inbound
from adapters.telegram.transport import AiohttpRequest
from bot.config import TelegramConfig, env_secret
from bot.core import texts as texts_mod
from bot.core.errors import ConfigError, HeldForSafety, StorageError
from bot.core.messages import Outbound
from bot.core.texts import Texts
from bot.service.ports import (
    ActionHandler,
    DeliveryError,
    DigestMessage,
    InboundHandler,
    TransientError,
    Unreachable,
    UnreachableHandler,
)

log = logging.getLogger("heard.telegram")


ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
SEND_ATTEMPTS = 6
DIGEST_PART = 4000
"""Characters per message of a digest (Telegram takes up to 4096)."""
STOP_GRACE = 10.0
"""Seconds a clean stop waits for replies still being sent."""
CHATS_AT_ONCE = 4
"""Chats of one getUpdates batch handled at the same time. More does not go
faster: the HTTP client's cost per call grows with the calls in flight, and a
burst of calls stalls the event loop so paced sends bunch up into 429s."""
RECENT_PER_CHAT = 300
"""Message ids remembered per chat for "hide this chat" (Telegram lets a bot
delete its own and the family's messages in a private chat for 48 hours)."""
RECENT_FOR = 48 * 3600.0
"""Seconds a remembered message id is kept: after that Telegram would refuse
to delete it anyway."""
MAX_BACKOFF = 30.0


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    platform = PLATFORM

    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        *,
        webhook_secret: str = "",
        texts: Texts | None = None,
        poll_timeout: int = 25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.mode == "webhook" and not webhook_secret:
            raise ConfigError(
                "[telegram] secret_token_env: webhook mode needs a secret token, or anyone "
                "who finds the URL could post updates; set the variable to a long random string"
            )
        self.monotonic = monotonic
        self.config = config
        self.token = token
        self.webhook_secret = webhook_secret
        self.texts = texts or texts_mod.load()
        self.poll_timeout = poll_timeout
        self.pacer = Pacer(config.max_per_second, config.max_per_chat_per_second, config.chat_burst)
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._on_inbound: InboundHandler | None = None
        self._on_unreachable: UnreachableHandler | None = None
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._apologised: set[int] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._reply_order = ChatOrder()
        self._action_handlers: dict[str, ActionHandler] = {}
        self._chats_at_once = asyncio.Semaphore(CHATS_AT_ONCE)
        self._recent: dict[str, deque[tuple[float, int]]] = {}
        self._recent_swept = monotonic()
        self.webhook_port: int | None = None

    @classmethod
    def from_config(cls, config: TelegramConfig) -> TelegramChannel:
        token = env_secret(config.token_env, "[telegram] token_env")
        secret = ""
        if config.mode == "webhook":
            secret = env_secret(config.secret_token_env, "[telegram] secret_token_env")
        return cls(config, token, webhook_secret=secret)

    @property
    def bot(self) -> Any:
        if self.application is None:
            raise RuntimeError("the Telegram channel is not started")
        return self.application.bot

    # -- life cycle ------------------------------------------------------------------

    async def start(self, on_inbound: InboundHandler, on_unreachable: UnreachableHandler) -> None:
        self._on_inbound = on_inbound
        self._on_unreachable = on_unreachable
        builder = ApplicationBuilder().token(self.token).updater(None)
        if self.config.base_url:
            base = self.config.base_url.rstrip("/")
            root = base.removesuffix("/bot")
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        # getUpdates reads for its long-poll timeout plus this read timeout.
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(pool_size=1, read_timeout=10.0)
        )
        self.application = builder.build()
        try:
            await self.application.initialize()
        except InvalidToken:
            raise ConfigError(
                f"[telegram] token_env: Telegram rejected the token in {self.config.token_env}; "
                "copy it again from BotFather"
            ) from None
        except NetworkError as exc:
            raise ConfigError(
                f"[telegram] base_url: cannot reach the Bot API ({exc.message}); "
                "check the network or the base_url"
            ) from None
        await self._set_commands()
        if self.config.mode == "webhook":
            await self._start_webhook()
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        log.info("Telegram channel started (%s)", self.config.mode)

    async def stop(self) -> None:
        self._stopping.set()
        if self._poller is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=STOP_GRACE)
        if self._runner is not None:
            await self._runner.cleanup()
        if self.application is not None:
            with contextlib.suppress(TelegramError):
                await self.application.shutdown()

    async def _set_commands(self) -> None:
        for locale in self.texts.locales:
            commands = [
                BotCommand(name, self.texts.get(locale, f"menu_{name}"))
                for name in ("help", "stop", "forget", "language")
            ]
            code = None if locale == texts_mod.FALLBACK else locale
            try:
                await self.bot.set_my_commands(commands, language_code=code)
            except TelegramError as exc:
                log.warning("could not set the commands menu: %s", exc.__class__.__name__)

    # -- receiving: polling --------------------------------------------------------------

    async def _poll(self) -> None:
        offset: int | None = None
        backoff = 1.0
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                fetch = asyncio.create_task(
                    self.bot.get_updates(
                        offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                    )
                )
                await asyncio.wait({fetch, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError, TelegramError):
                        await fetch
                    break
                try:
                    updates: Sequence[Update] = fetch.result()
                except (Conflict, InvalidToken, NetworkError) as exc:
                    log.warning("getUpdates failed (%s); retrying", exc.__class__.__name__)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                if not updates:
                    backoff = 1.0
                    continue
                done_upto = await self._process_batch(updates)
                if done_upto is not None:
                    offset = done_upto + 1
                if done_upto is None or done_upto < updates[-1].update_id:
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                else:
                    backoff = 1.0
        finally:
            stop_wait.cancel()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _process_batch(self, updates: Sequence[Update]) -> int | None:
        """Handle a batch: chats in parallel, each chat's updates in order.
        Returns the highest update id up to which everything was stored."""
        by_chat: dict[str, list[Update]] = defaultdict(list)
        for update in updates:
            chat = update.effective_chat
            by_chat[str(chat.id) if chat else f"u{update.update_id}"].append(update)
        failed: list[int] = []

        async def run_chat(items: list[Update]) -> None:
            async with self._chats_at_once:
                for n, update in enumerate(items):
                    stored, deliver = await self.store_update(update)
                    if deliver is not None:
                        task = asyncio.create_task(deliver)
                        self._deliveries.add(task)
                        task.add_done_callback(self._deliveries.discard)
                    if not stored:
                        failed.extend(u.update_id for u in items[n:])
                        return

        await asyncio.gather(*(run_chat(items) for items in by_chat.values()))
        ids = [u.update_id for u in updates]
        if not failed:
            return max(ids)
        first_failed = min(failed)
        done = [i for i in ids if i < first_failed]
        return max(done) if done else None

    # -- receiving: webhook ----------------------------------------------------------------

    async def _start_webhook(self) -> None:
        path = urlparse(self.config.webhook_url).path or "/telegram"
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(path, self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.listen, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.webhook_port = sockets[0].getsockname()[1] if sockets else self.config.port
        await self.bot.set_webhook(
            self.config.webhook_url,
            secret_token=self.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.webhook_secret or not hmac.compare_digest(
            given.encode(), self.webhook_secret.encode()
        ):
            return web.Response(status=403, text="forbidden")
        try:
            payload = await request.json()
            update = Update.de_json(payload, self.bot)
        except Exception:
            return web.Response(status=400, text="not a Telegram update")
        if update is None:
            return web.Response(status=400, text="not a Telegram update")
        stored = await self.handle_update(update)
        return web.Response(status=200 if stored else 500)

    # -- handling one update ---------------------------------------------------------------

    async def can_post(self, address: str) -> str:
        """Why Heard could not post to the chat `address` (empty if it can):
        checked at start for the duty channels (`getChat`)."""
        try:
            await self.bot.get_chat(chat_id=address)
        except Forbidden:
            return "forbidden"
        except BadRequest as exc:
            return str(exc.message).lower()
        except TelegramError as exc:
            return type(exc).__name__
        return ""

    def add_action_handler(self, prefix: str, handler: ActionHandler) -> None:
        """Call `handler(user_id, data, chat_id, message_id)` for a press on a
        button whose data starts with `prefix`, in any chat (e.g. a duty
        team's group acknowledging an alert), instead of the conversation."""
        self._action_handlers[prefix] = handler

    async def _run_action(self, query: Any) -> bool | None:
        """Run the staff handler for this press: None if it is not one, True
        once handled, False if it could not be stored (the press is then not
        confirmed to Telegram, so the update comes again)."""
        data = query.data or ""
        for prefix, handler in self._action_handlers.items():
            if data.startswith(prefix):
                message = query.message
                try:
                    await handler(
                        str(query.from_user.id),
                        data,
                        str(message.chat.id) if message else "",
                        str(message.message_id) if message else "",
                    )
                except StorageError:
                    log.warning("a staff button press could not be stored; it will come again")
                    return False
                except Exception as exc:
                    log.warning("a button handler failed: %s", exc.__class__.__name__)
                with contextlib.suppress(TelegramError):
                    await query.answer()
                return True
        return None

    async def handle_update(self, update: Update) -> bool:
        """Process one update and send its replies; False if it could not be
        stored (retry later)."""
        stored, deliver = await self.store_update(update)
        if deliver is not None:
            await deliver
        return stored

    async def store_update(self, update: Update) -> tuple[bool, Coroutine[Any, Any, None] | None]:
        """Store one update; return whether it was stored and the coroutine
        that sends its replies (in order with the chat's earlier replies).
        Polling moves its offset as soon as updates are stored and sends the
        replies meanwhile, so a slow, paced reply never holds up the next
        getUpdates."""
        if update.callback_query is not None:
            handled = await self._run_action(update.callback_query)
            if handled is not None:
                return handled, None
        inbound = to_inbound(update)
        if inbound is None or self._on_inbound is None:
            return True, None
        query = update.callback_query
        if query is not None:
            pressed_on = query.message if isinstance(query.message, Message) else None
            label = chosen_label(pressed_on, query.data or "")
            with contextlib.suppress(TelegramError):
                await query.answer(f"✓ {label}" if label else None)
        elif update.effective_message is not None:
            self._remember(inbound.chat_id, update.effective_message.message_id)
        try:
            replies = await self._on_inbound(inbound)
        except HeldForSafety as held:
            # The database is down but the family wrote of danger: help now
            # (once per update), the alert is spooled, the update stays
            # unconfirmed so Telegram delivers it again.
            await self._apologise(update.update_id, inbound.chat_id, "", held.replies)
            return False, None
        except StorageError:
            await self._apologise(update.update_id, inbound.chat_id, inbound.language_hint)
            return False, None
        except Exception:
            log.exception("error while handling a Telegram update")
            await self._apologise(update.update_id, inbound.chat_id, inbound.language_hint)
            return True, None
        pressed = query.message if query is not None else None
        turn = self._reply_order.join(inbound.chat_id)
        return True, self._deliver(inbound.chat_id, turn, pressed, query, replies)

    async def _deliver(
        self,
        chat_id: str,
        turn: Turn,
        pressed: Any,
        query: Any,
        replies: list[Outbound],
    ) -> None:
        """Send one update's replies after the chat's earlier replies (its
        `turn` was taken when the update was stored), then, if the chat can
        spare it, the cosmetic keyboard edit."""
        async with turn:
            for out in replies:
                try:
                    await self.send(out)
                except DeliveryError as exc:
                    log.warning("reply not delivered: %s", exc.__class__.__name__)
                    break
            if pressed is not None:
                await self._settle_keyboard(chat_id, pressed, query.data or "")

    async def _settle_keyboard(self, chat_id: str, message: Any, data: str) -> None:
        """Show which button was pressed and take the keyboard away, so an old
        question is not answered again by accident; but only if the chat has
        a send to spare right now. Cosmetic: never waited for, never retried,
        dropped when the chat is behind, so it never delays a question."""
        if not self.pacer.try_take(chat_id):
            return
        label = chosen_label(message, data)
        text = getattr(message, "text", None)
        try:
            if label and text:
                await self.bot.edit_message_text(
                    f"{text}\n\n✓ {label}", chat_id=chat_id, message_id=message.message_id
                )
            else:
                await self.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message.message_id, reply_markup=None
                )
        except RetryAfter as exc:
            self.pacer.pause(_seconds(exc))
        except TelegramError as exc:
            log.info("could not update the pressed message: %s", exc.__class__.__name__)

    def _remember(self, chat_id: str, message_id: int) -> None:
        """Keep a message id for "hide this chat", for `RECENT_FOR` seconds."""
        now = self.monotonic()
        ids = self._recent.get(chat_id)
        if ids is None:
            ids = self._recent[chat_id] = deque(maxlen=RECENT_PER_CHAT)
        ids.append((now, message_id))
        if now - self._recent_swept > 600:
            self._recent_swept = now
            self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        for chat in list(self._recent):
            ids = self._recent[chat]
            while ids and now - ids[0][0] > RECENT_FOR:
                ids.popleft()
            if not ids:
                del self._recent[chat]

    def remembered(self, chat_id: str) -> list[int]:
        """The message ids of this chat that "hide this chat" would delete."""
        now = self.monotonic()
        return [m for at, m in self._recent.get(chat_id, ()) if now - at <= RECENT_FOR]

    async def hide_chat(self, chat_id: str) -> int:
        """Delete the messages of this chat that Heard remembers (newest first);
        returns how many went. Older or forgotten ones stay: the reply tells the
        family how to delete the whole chat themselves."""
        ids = self.remembered(chat_id)
        self._recent.pop(chat_id, None)
        deleted = 0
        for message_id in reversed(ids):
            try:
                if await self.bot.delete_message(chat_id, message_id):
                    deleted += 1
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc))
            except TelegramError:
                continue
        return deleted

    async def _apologise(
        self, update_id: int, chat_id: str, hint: str, instead: list[Outbound] | None = None
    ) -> None:
        """Say "try again later" (or `instead`, the help message) once per update."""
        if update_id in self._apologised:
            return
        self._apologised.add(update_id)
        if len(self._apologised) > 10_000:
            self._apologised.clear()
        outs = instead or [Outbound(PLATFORM, chat_id, self.texts.for_anyone("try_later", hint))]
        for out in outs:
            with contextlib.suppress(DeliveryError):
                await self.send(out)

    # -- sending -------------------------------------------------------------------------------

    async def send(self, out: Outbound) -> str:
        """Send at Telegram's pace, honouring 429 and retrying transient
        failures; returns the id of the (last) message sent. A `hide_chat`
        Outbound deletes what Heard remembers of the chat and sends nothing."""
        if out.hide_chat:
            await self.hide_chat(out.chat_id)
            return ""
        message_id = ""
        for part in render(out):
            message_id = await self._send_one(out.chat_id, part.text, part.markup)
        return message_id

    async def _send_one(self, chat_id: str, text: str, markup: Any) -> str:
        backoff = 0.5
        for _ in range(SEND_ATTEMPTS):
            await self.pacer.wait(chat_id)
            try:
                message = await self.bot.send_message(chat_id, text, reply_markup=markup)
                self._remember(chat_id, message.message_id)
                return str(message.message_id)
            except RetryAfter as exc:
                self.pacer.pause(_seconds(exc))
                await asyncio.sleep(_seconds(exc))
            except Forbidden as exc:
                await self._unreachable(chat_id)
                raise Unreachable(f"Telegram refused: {exc.message}") from None
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    await self._unreachable(chat_id)
                    raise Unreachable("chat not found") from None
                raise DeliveryError(f"Telegram rejected the message: {exc.message}") from None
            except (TimedOut, NetworkError):
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 8.0)
        raise TransientError("Telegram did not accept the message after several tries")

    async def send_digest(self, target: str, message: DigestMessage) -> str:
        """A worker's digest as a message, then each chart as a photo; a chart
        that will not go leaves the text with a line saying so."""
        text = message.plain()
        message_id = ""
        for start in range(0, len(text), DIGEST_PART):
            message_id = await self._send_one(target, text[start : start + DIGEST_PART], None)
        for filename, png in message.charts:
            try:
                await self.pacer.wait(target)
                await self.bot.send_photo(
                    target, photo=InputFile(png, filename=filename), caption=message.title[:1000]
                )
            except TelegramError as exc:
                log.warning("could not send a digest chart: %s", type(exc).__name__)
                with contextlib.suppress(DeliveryError):
                    await self._send_one(target, message.chart_failed, None)
        return message_id

    async def open_for_sending(self) -> None:
        """Only the Bot API, for sending from the command line (no polling)."""
        builder = ApplicationBuilder().token(self.token).updater(None)
        if self.config.base_url:
            root = self.config.base_url.rstrip("/").removesuffix("/bot")
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        self.application = builder.build()
        try:
            await self.application.initialize()
        except InvalidToken:
            raise ConfigError(
                f"[telegram] token_env: Telegram rejected the token in {self.config.token_env}; "
                "copy it again from BotFather"
            ) from None

    async def close_for_sending(self) -> None:
        if self.application is not None:
            await self.application.shutdown()
            self.application = None

    async def _unreachable(self, chat_id: str) -> None:
        if self._on_unreachable is not None:
            try:
                await self._on_unreachable(PLATFORM, chat_id)
            except StorageError:
                log.warning("could not mark a Telegram chat unreachable: database unavailable")
