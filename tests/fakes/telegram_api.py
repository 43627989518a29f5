"""A fake Telegram Bot API server for tests.

``FakeTelegram`` runs a real HTTP server (aiohttp) on ``127.0.0.1`` in a background thread with
its own event loop, so the REAL python-telegram-bot library can talk to it from sync tests, async
tests, or a bot running in yet another thread::

    with FakeTelegram() as tg:
        bot = telegram.Bot(tg.token, base_url=tg.base_url)
        ...
        update_id = tg.user_sends_text(42, "hello")
        tg.wait_sent(42, 1)

How PTB 22 talks to the Bot API (and therefore what this fake accepts):

* URL: ``Bot(base_url=X)`` posts to ``f"{X}{token}/{method}"`` (the token is appended with no
  separator unless ``X`` contains ``{token}``), so :attr:`FakeTelegram.base_url` ends in ``/bot``.
* Body: PTB uses httpx ``data=`` form fields: ``application/x-www-form-urlencoded`` without files,
  ``multipart/form-data`` with files.  Every value is a string; non-string values (ints, bools,
  dicts, lists) are JSON-encoded (``"123"``, ``"true"``, ``'{"inline_keyboard": ...}'``).  This fake
  decodes them back.  JSON bodies and query strings are accepted too.
* Long polling: ``get_updates(timeout=T)`` sends ``timeout=T`` and uses an HTTP read timeout of
  ``read_timeout + T`` on the client side.

Semantics that mirror the real API and are easy to trip over:

* Message ids are per chat and shared by user and bot messages (as in private chats).
* ``editMessageText`` without ``reply_markup`` removes the inline keyboard; an edit that changes
  nothing returns ``400 Bad Request: message is not modified ...``.
* ``getUpdates`` while a webhook is set returns 409; a second concurrent ``getUpdates`` terminates
  the first one with 409 (``Conflict: terminated by other getUpdates request ...``).
* Unknown methods return 404, which PTB turns into ``telegram.error.InvalidToken``.
* With ``parse_mode="HTML"``/``"MarkdownV2"`` the text is checked roughly like Telegram does
  (unknown/unbalanced HTML tags, unescaped MarkdownV2 reserved characters) and rejected with
  ``400 Bad Request: can't parse entities: ...``.  ``validate_markup=False`` turns this off.
  :meth:`FakeTelegram.sent` records the raw text as the bot sent it; the returned/stored Message
  carries the plain text, like Telegram.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import html
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["RATE_LIMITED_METHODS", "FakeTelegram"]

#: Methods that count against the (optional) flood limits and that are "sends" for
#: :meth:`FakeTelegram.block_chat`-style checks.
RATE_LIMITED_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    ),
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_BLOCKED = "Forbidden: bot was blocked by the user"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "of the message are exactly the same as a current content and reply markup of the message"
)
_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_INT_RE = re.compile(r"^-?\d+$")
_FLOAT_RE = re.compile(r"^-?\d+\.\d*(?:[eE][-+]?\d+)?$")

# Form values of these parameters stay strings even if they look like numbers/JSON.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "secret_token",
        "url",
        "callback_query_id",
        "inline_message_id",
        "parse_mode",
        "description",
        "short_description",
        "name",
        "language_code",
        "ip_address",
        "query",
        "title",
        "photo",
        "document",
        "sticker",
        "voice",
        "file_id",
        "emoji",
        "action",
        "message_effect_id",
        "business_connection_id",
    }
)


class _ApiError(Exception):
    def __init__(self, status: int, description: str | None = None, retry_after: int | None = None):
        self.status = status
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        self.description = description or _DEFAULT_DESCRIPTIONS.get(status, "Error")
        self.retry_after = retry_after
        super().__init__(f"{status} {self.description}")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass
class _Entry:
    update_id: int
    update: dict[str, Any]
    forced: bool = False  # a redelivery: returned once regardless of the offset
    inflight: bool = False  # currently being POSTed to the webhook


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None

    def info(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "secret_token": self.secret_token,
            "max_connections": self.max_connections,
            "allowed_updates": self.allowed_updates,
            "ip_address": self.ip_address,
            "last_error_date": self.last_error_date,
            "last_error_message": self.last_error_message,
        }


@dataclass
class _Fault:
    kind: str  # "error" | "drop"
    status: int = 0
    description: str | None = None
    retry_after: int | None = None
    after: bool = False  # drop the connection after the call was executed


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[dict[str, Any]]:
    match = _COMMAND_RE.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group(0))}]


def _coerce(key: str, value: str) -> Any:
    """Decode one form field the way PTB encoded it (JSON for non-strings)."""
    if key in _STRING_PARAMS:
        return value
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value in ("true", "false"):
        return value == "true"
    if _INT_RE.match(value):
        return int(value)
    if _FLOAT_RE.match(value):
        return float(value)
    return value


def _norm_chat(chat_id: Any) -> int | str:
    if isinstance(chat_id, bool):
        raise _bad("chat not found")
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and _INT_RE.match(chat_id):
        return int(chat_id)
    if isinstance(chat_id, str) and chat_id.startswith("@") and len(chat_id) > 1:
        return chat_id
    raise _bad("chat not found")


def _int_param(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = params.get(key, default)
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {key} specified") from None


# ----------------------------------------------------------------------------------------------
# parse_mode checks (approximations of Telegram's parser, good enough to catch the usual bugs)

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(\s[^<>]*)?>")
_HTML_ENTITY_RE = re.compile(r"&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_MDV2_MUST_ESCAPE = frozenset("#+-={}.!")
_MDV2_FORMATTING = frozenset("*_~|")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _html_to_plain(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            match = _TAG_RE.match(text, i)
            if not match:
                raise _bad(
                    "can't parse entities: Unexpected end of name token at byte offset "
                    f"{_byte_offset(text, i)}"
                )
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in _HTML_TAGS:
                raise _bad(
                    f'can\'t parse entities: Unsupported start tag "{name}" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
            if closing:
                if not stack:
                    raise _bad(
                        "can't parse entities: Unexpected end tag at byte offset "
                        f"{_byte_offset(text, i)}"
                    )
                if stack[-1] != name:
                    raise _bad(
                        "can't parse entities: Unmatched end tag at byte offset "
                        f'{_byte_offset(text, i)}, expected "</{stack[-1]}>", found "</{name}>"'
                    )
                stack.pop()
            else:
                stack.append(name)
            i = match.end()
            continue
        if ch == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            if match:
                out.append(html.unescape(match.group(0)))
                i = match.end()
                continue
        out.append(ch)
        i += 1
    if stack:
        raise _bad(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return "".join(out)


def _markdown_v2_to_plain(text: str) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if ch == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise _bad(
                    "can't parse entities: Can't find end of Pre entity at byte offset "
                    f"{_byte_offset(text, i)}"
                )
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                body = rest if first and " " not in first else body
            out.append(body.replace("\\`", "`").replace("\\\\", "\\"))
            i = end + len(fence)
            continue
        if ch == "]" and text.startswith("](", i):
            end = text.find(")", i + 2)
            if end < 0:
                raise _bad("can't parse entities: Can't find end of a URL")
            i = end + 1
            continue
        if ch in _MDV2_MUST_ESCAPE:
            raise _bad(
                f"can't parse entities: Character '{ch}' is reserved and must be escaped with "
                "the preceding '\\'"
            )
        if ch in _MDV2_FORMATTING or ch == "[":
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _plain_text(text: str, parse_mode: Any, validate: bool) -> str:
    if not parse_mode:
        return text
    mode = str(parse_mode)
    try:
        if mode.lower() == "html":
            return _html_to_plain(text)
        if mode == "MarkdownV2":
            return _markdown_v2_to_plain(text)
    except _ApiError:
        if validate:
            raise
        return text
    if mode in ("Markdown", "markdown", "markdownv2"):
        return text
    raise _bad(f"unsupported parse_mode {mode}")


def _check_inline_keyboard(markup: Any) -> dict[str, Any] | None:
    """Validate reply_markup; return it if it is an inline keyboard, else None."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None  # reply keyboard / remove / force reply: not attached to the message
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed")
            actions = set(button) - {"text"}
            if not actions:
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
    return markup if rows else None


class FakeTelegram:
    """Fake Telegram Bot API server (see the module docstring).

    Args:
        token: the only accepted bot token (default: a random ``"<bot_id>:TEST-..."``).
        bot_id, bot_username, bot_first_name: what ``getMe`` returns.
        rate_limit_overall: max accepted sends in any sliding 1.0 s window (``None`` = off).
        rate_limit_per_chat: per-chat token bucket refill rate in sends/s (``None`` = off).
        burst_per_chat: per-chat token bucket capacity (only used with ``rate_limit_per_chat``).
        webhook_max_attempts: delivery attempts per update before it is dropped.
        webhook_retry_delay: delay before retry ``k`` is ``webhook_retry_delay * k`` seconds.
        webhook_timeout: HTTP timeout of one webhook delivery attempt.
        known_chats_only: sends to chats no user has written from fail with
            ``400 Bad Request: chat not found``.
        validate_markup: check HTML/MarkdownV2 texts like Telegram does.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_id: int = 123456,
        bot_username: str = "heard_test_bot",
        bot_first_name: str = "Heard Test Bot",
        rate_limit_overall: float | None = None,
        rate_limit_per_chat: float | None = None,
        burst_per_chat: int = 3,
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 10.0,
        known_chats_only: bool = False,
        validate_markup: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._token = token or f"{bot_id}:TEST-{secrets.token_hex(16)}"
        self._bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.known_chats_only = known_chats_only
        self.validate_markup = validate_markup

        self._lock = threading.RLock()
        self._current_files: dict[str, dict[str, Any]] = {}
        self._reset_state()
        self._rate_overall: float | None = None
        self._rate_per_chat: float | None = None
        self._burst_per_chat = burst_per_chat
        self.set_rate_limits(
            overall=rate_limit_overall, per_chat=rate_limit_per_chat, burst=burst_per_chat
        )

        # Server thread / loop.
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self._poll_event: asyncio.Event | None = None
        self._webhook_event: asyncio.Event | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._delivery_tasks: set[asyncio.Task[None]] = set()

        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}
        for name in (
            "getMe",
            "sendMessage",
            "editMessageText",
            "editMessageReplyMarkup",
            "answerCallbackQuery",
            "deleteMessage",
            "setWebhook",
            "deleteWebhook",
            "getWebhookInfo",
            "setMyCommands",
            "getMyCommands",
            "deleteMyCommands",
            "close",
            "logOut",
            "sendPhoto",
            "sendDocument",
            "sendChatAction",
            "getChat",
            "setMyDescription",
            "setMyShortDescription",
            "setMyName",
            "setChatMenuButton",
        ):
            self._methods[name.lower()] = (name, getattr(self, f"_m_{name}"))
        self._methods["getupdates"] = ("getUpdates", self._m_getUpdates_unused)

    def _reset_state(self) -> None:
        self._next_update_id = 10_000_001
        self._next_callback_id = 4_000_000_000_000_001
        self._next_file = 1
        self._queue: list[_Entry] = []
        self._all_updates: dict[int, dict[str, Any]] = {}
        self._message_ids: dict[int | str, int] = {}
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._callbacks: dict[str, dict[str, Any]] = {}  # id -> {"update_id", "answer"}
        self._calls: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._edits: list[dict[str, Any]] = []
        self._deleted: list[tuple[int | str, int]] = []
        self._callback_answers: list[dict[str, Any]] = []
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._last_commands: list[dict[str, Any]] | None = None
        self._webhook: _Webhook | None = None
        self._webhook_deliveries: list[dict[str, Any]] = []
        self._webhook_busy_keys: set[Any] = set()
        self._faults: dict[str, collections.deque[_Fault]] = {}
        self._delays: dict[str, collections.deque[float]] = {}
        self._blocked: set[int | str] = set()
        self._poll_generation = 0
        self._window: collections.deque[float] = collections.deque()
        self._buckets: dict[int | str, list[float]] = {}  # chat -> [tokens, last_refill]
        self.too_many_requests_count = 0

    # ------------------------------------------------------------------------------------------
    # lifecycle

    def start(self) -> FakeTelegram:
        """Start the server thread; returns once the server is accepting connections."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._loop_thread_id = threading.get_ident()
            try:
                loop.run_until_complete(self._astart())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._closing = False
        self._thread = threading.Thread(target=run, name="FakeTelegram", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the server (wakes long polls, cancels webhook deliveries); idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._astop(), loop)
        try:
            future.result(15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(15)
            self._thread = None
            self._loop = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _astart(self) -> None:
        self._poll_event = asyncio.Event()
        self._webhook_event = asyncio.Event()
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port, backlog=1024)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def _astop(self) -> None:
        self._closing = True
        self._wake_all()
        tasks = [t for t in (self._webhook_task, *self._delivery_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------------------------------------
    # properties

    @property
    def token(self) -> str:
        return self._token

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` - pass to ``Bot(base_url=...)``/``ApplicationBuilder``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def bot_username(self) -> str:
        return str(self._bot_user["username"])

    @property
    def bot_id(self) -> int:
        return int(self._bot_user["id"])

    @property
    def bot_user(self) -> dict[str, Any]:
        return dict(self._bot_user)

    # ------------------------------------------------------------------------------------------
    # configuration / fault injection (thread-safe)

    def set_rate_limits(
        self,
        *,
        overall: float | None = None,
        per_chat: float | None = None,
        burst: int | None = None,
    ) -> None:
        """(Re)configure flood limits; ``None`` turns a limit off.

        Enforcement, for every method in :data:`RATE_LIMITED_METHODS`:

        * overall: a send at monotonic time ``t`` is rejected if ``floor(overall)`` sends were
          already accepted in the half-open window ``(t - 1.0, t]``;
        * per chat: a token bucket per ``chat_id`` with capacity ``burst`` (starts full) that
          refills continuously at ``per_chat`` tokens/s; a send needs one whole token.

        Rejected sends get ``429`` with ``retry_after=1``, increment
        :attr:`too_many_requests_count`, consume no budget and are not recorded as sent.
        """
        with self._lock:
            self._rate_overall = overall
            self._rate_per_chat = per_chat
            if burst is not None:
                self._burst_per_chat = burst
            self._window.clear()
            self._buckets.clear()

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``status`` (not executed).

        Default descriptions: 429 ``Too Many Requests: retry after N`` (+ ``parameters``;
        ``retry_after`` defaults to 1), 403 ``Forbidden: bot was blocked by the user``,
        500 ``Internal Server Error``, 502 ``Bad Gateway``, 400 ``Bad Request``, 409 Conflict.
        """
        fault = _Fault("error", status, description, retry_after)
        with self._lock:
            queue = self._faults.setdefault(method.lower(), collections.deque())
            queue.extend(fault for _ in range(count))

    def drop_connection_next(self, method: str, *, count: int = 1, after: bool = False) -> None:
        """Close the TCP connection without any response on the next ``count`` calls.

        With ``after=False`` the call is not executed (PTB raises ``NetworkError``); with
        ``after=True`` it IS executed (e.g. the message is sent) and then the response is lost.
        """
        with self._lock:
            queue = self._faults.setdefault(method.lower(), collections.deque())
            queue.extend(_Fault("drop", after=after) for _ in range(count))

    def delay_next(self, method: str, seconds: float, *, count: int = 1) -> None:
        """Sleep ``seconds`` before handling the next ``count`` calls of ``method``."""
        with self._lock:
            queue = self._delays.setdefault(method.lower(), collections.deque())
            queue.extend(seconds for _ in range(count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def block_chat(self, chat_id: int | str) -> None:
        """Every send/edit to ``chat_id`` returns 403 ``Forbidden: bot was blocked by the user``."""
        with self._lock:
            self._blocked.add(_norm_chat(chat_id))

    def unblock_chat(self, chat_id: int | str) -> None:
        with self._lock:
            self._blocked.discard(_norm_chat(chat_id))

    # ------------------------------------------------------------------------------------------
    # simulating users (thread-safe, callable from any thread)

    def _user(
        self, user_id: int, first_name: str, language_code: str | None, username: str | None
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _chat_locked(self, chat_id: int | str) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        if isinstance(chat_id, str):
            return {"id": chat_id, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Sam"}
        if str(chat_id).startswith("-100"):
            return {"id": chat_id, "type": "supergroup", "title": "Test group"}
        return {"id": chat_id, "type": "group", "title": "Test group"}

    def _new_message_id_locked(self, chat_id: int | str) -> int:
        mid = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = mid
        return mid

    def _user_message(
        self,
        chat_id: int,
        content: dict[str, Any],
        *,
        user_id: int | None,
        first_name: str,
        language_code: str | None,
        username: str | None = None,
    ) -> int:
        chat_id = int(chat_id)
        uid = chat_id if user_id is None else user_id
        user = self._user(uid, first_name, language_code, username)
        with self._lock:
            if chat_id > 0:
                chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
                if username:
                    chat["username"] = username
                self._chats[chat_id] = chat
            else:
                chat = self._chat_locked(chat_id)
                self._chats[chat_id] = chat
            message = {
                "message_id": self._new_message_id_locked(chat_id),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                **content,
            }
            self._messages[(chat_id, message["message_id"])] = message
            return self._enqueue_locked({"message": copy.deepcopy(message)})

    def user_sends_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Sam",
        language_code: str | None = "en",
        username: str | None = None,
    ) -> int:
        """A user writes ``text``; returns the update_id. A leading ``/cmd`` gets an entity."""
        content: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            username=username,
        )

    def user_sends_start(self, chat_id: int, token: str | None = None, **user: Any) -> int:
        """``/start`` or ``/start TOKEN`` (deep link) with a correct bot_command entity."""
        text = "/start" if token is None else f"/start {token}"
        return self.user_sends_text(chat_id, text, **user)

    def user_sends_command(
        self, chat_id: int, command: str, args: str | None = None, **user: Any
    ) -> int:
        command = command.lstrip("/")
        text = f"/{command}" if not args else f"/{command} {args}"
        return self.user_sends_text(chat_id, text, **user)

    def _file_ids(self, prefix: str) -> tuple[str, str]:
        with self._lock:
            n = self._next_file
            self._next_file += 1
        return f"{prefix}-file-{n:06d}-{secrets.token_hex(4)}", f"{prefix}-uniq-{n:06d}"

    def user_sends_sticker(
        self,
        chat_id: int,
        *,
        emoji: str = "👍",
        user_id: int | None = None,
        first_name: str = "Sam",
    ) -> int:
        file_id, unique = self._file_ids("sticker")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 12_345,
        }
        content = {"sticker": sticker}
        return self._user_message(
            chat_id, content, user_id=user_id, first_name=first_name, language_code="en"
        )

    def user_sends_voice(
        self,
        chat_id: int,
        *,
        duration: int = 3,
        user_id: int | None = None,
        first_name: str = "Sam",
    ) -> int:
        file_id, unique = self._file_ids("voice")
        voice = {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4_321,
        }
        return self._user_message(
            chat_id, {"voice": voice}, user_id=user_id, first_name=first_name, language_code="en"
        )

    def user_sends_photo(
        self,
        chat_id: int,
        caption: str | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "Sam",
    ) -> int:
        file_id, unique = self._file_ids("photo")
        sizes = [
            {
                "file_id": f"{file_id}-{w}",
                "file_unique_id": f"{unique}-{w}",
                "width": w,
                "height": w * 3 // 4,
                "file_size": w * 40,
            }
            for w in (90, 320, 800)
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(
            chat_id, content, user_id=user_id, first_name=first_name, language_code="en"
        )

    def user_edits_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Sam",
        language_code: str | None = "en",
    ) -> int:
        """An ``edited_message`` update for a message the user sent earlier (or any id)."""
        chat_id = int(chat_id)
        with self._lock:
            original = self._messages.get((chat_id, message_id))
            if original is not None and not original.get("from", {}).get("is_bot"):
                message = copy.deepcopy(original)
            else:
                uid = chat_id if user_id is None else user_id
                message = {
                    "message_id": message_id,
                    "from": self._user(uid, first_name, language_code, None),
                    "chat": self._chat_locked(chat_id),
                    "date": int(time.time()) - 1,
                }
            message["text"] = text
            message["edit_date"] = int(time.time())
            message.pop("entities", None)
            entities = _command_entities(text)
            if entities:
                message["entities"] = entities
            self._messages[(chat_id, message_id)] = message
            return self._enqueue_locked({"edited_message": copy.deepcopy(message)})

    def user_presses(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Sam",
        language_code: str | None = "en",
    ) -> int:
        """A ``callback_query`` update for a button with ``data`` on ``message_id``."""
        chat_id = int(chat_id)
        uid = chat_id if user_id is None else user_id
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                message = {
                    "message_id": message_id,
                    "from": self._bot_user,
                    "chat": self._chat_locked(chat_id),
                    "date": int(time.time()),
                    "text": "",
                }
            cq_id = str(self._next_callback_id)
            self._next_callback_id += 1
            query = {
                "id": cq_id,
                "from": self._user(uid, first_name, language_code, None),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(hash(("chat", chat_id))) % 10**18),
                "data": data,
            }
            update_id = self._enqueue_locked({"callback_query": query})
            self._callbacks[cq_id] = {"update_id": update_id, "answer": None}
            return update_id

    def user_taps(self, chat_id: int, button_text: str, **user: Any) -> int:
        """Press the button labelled ``button_text`` on the latest message with a keyboard."""
        with self._lock:
            message = self._last_keyboard_message_locked(int(chat_id))
            if message is None:
                raise AssertionError(f"chat {chat_id} has no message with an inline keyboard")
            buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        for button in buttons:
            if button.get("text") == button_text and "callback_data" in button:
                return self.user_presses(
                    chat_id, message["message_id"], button["callback_data"], **user
                )
        labels = [b.get("text") for b in buttons]
        raise AssertionError(f"no button {button_text!r} in chat {chat_id}; buttons: {labels}")

    def push_raw_update(self, update: dict[str, Any]) -> int:
        """Queue an arbitrary update dict (``update_id`` is assigned if missing)."""
        update = copy.deepcopy(update)
        with self._lock:
            if "update_id" in update:
                update_id = int(update["update_id"])
                self._next_update_id = max(self._next_update_id, update_id + 1)
                self._all_updates[update_id] = update
                self._queue.append(_Entry(update_id, update))
                self._notify_locked()
                return update_id
            return self._enqueue_locked(update)

    def redeliver(self, update_id: int) -> None:
        """Deliver update ``update_id`` once more (a duplicate, even if already confirmed)."""
        with self._lock:
            update = self._all_updates.get(update_id)
            if update is None:
                raise KeyError(f"unknown update_id {update_id}")
            self._queue.append(_Entry(update_id, copy.deepcopy(update), forced=True))
            self._notify_locked()

    def _enqueue_locked(self, payload: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, **payload}
        self._all_updates[update_id] = update
        self._queue.append(_Entry(update_id, copy.deepcopy(update)))
        self._notify_locked()
        return update_id

    def _notify_locked(self) -> None:
        loop = self._loop
        if loop is None or self._closing:
            return
        if threading.get_ident() == self._loop_thread_id:
            self._wake_all()
        else:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        """Runs on the server loop: wake long polls and the webhook pump."""
        if self._poll_event is not None:
            self._poll_event.set()
            self._poll_event = asyncio.Event()
        if self._webhook_event is not None:
            self._webhook_event.set()

    # ------------------------------------------------------------------------------------------
    # inspection (thread-safe; everything returned is a copy)

    def sent(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent successfully, in order.

        Each: ``method, chat_id, message_id, text`` (raw, as sent), ``caption``, ``parse_mode``,
        ``reply_markup``, ``params`` (all decoded params), ``date``, ``t`` (monotonic time).
        """
        with self._lock:
            items = (
                self._sent
                if chat_id is None
                else [s for s in self._sent if s["chat_id"] == _norm_chat(chat_id)]
            )
            return copy.deepcopy(items)

    def sent_count(self, chat_id: int | str | None = None) -> int:
        """How many messages were sent (to ``chat_id``), without copying them."""
        with self._lock:
            if chat_id is None:
                return len(self._sent)
            wanted = _norm_chat(chat_id)
            return sum(1 for s in self._sent if s["chat_id"] == wanted)

    def texts(self, chat_id: int | str | None = None) -> list[str | None]:
        """Shortcut: the ``text`` (or ``caption``) of every sent message."""
        return [s["text"] if s["text"] is not None else s["caption"] for s in self.sent(chat_id)]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every API call in arrival order: ``method, params, t, status`` (``None`` while running).

        ``files`` holds uploaded parts (``filename, content_type, size``) when there are any.
        """
        with self._lock:
            if method is None:
                items = self._calls
            else:
                wanted = method.lower()
                items = [c for c in self._calls if c["method"].lower() == wanted]
            return copy.deepcopy(items)

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """Current server-side state of a message (after edits), or ``None`` if deleted/unknown."""
        with self._lock:
            msg = self._messages.get((_norm_chat(chat_id), message_id))
            return copy.deepcopy(msg)

    def _last_keyboard_message_locked(self, chat_id: int | str) -> dict[str, Any] | None:
        best: dict[str, Any] | None = None
        for (cid, _mid), msg in self._messages.items():
            if cid != chat_id or not msg.get("from", {}).get("is_bot"):
                continue
            if not msg.get("reply_markup", {}).get("inline_keyboard"):
                continue
            if best is None or msg["message_id"] > best["message_id"]:
                best = msg
        return best

    def last_keyboard_message(self, chat_id: int | str) -> dict[str, Any] | None:
        """The latest bot message in the chat that still has an inline keyboard."""
        with self._lock:
            return copy.deepcopy(self._last_keyboard_message_locked(_norm_chat(chat_id)))

    def last_keyboard(self, chat_id: int | str) -> list[tuple[str, str | None]]:
        """Buttons ``(text, callback_data)`` (rows flattened) of :meth:`last_keyboard_message`.

        ``[]`` if there is none.  URL buttons have ``callback_data`` ``None``.
        """
        msg = self.last_keyboard_message(chat_id)
        if msg is None:
            return []
        return [
            (b["text"], b.get("callback_data"))
            for row in msg["reply_markup"]["inline_keyboard"]
            for b in row
        ]

    @property
    def edits(self) -> list[dict[str, Any]]:
        """Successful edits: ``method, chat_id, message_id, text, reply_markup, params, t``."""
        with self._lock:
            return copy.deepcopy(self._edits)

    @property
    def deleted(self) -> list[tuple[int | str, int]]:
        """``(chat_id, message_id)`` of successfully deleted messages, in order."""
        with self._lock:
            return list(self._deleted)

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """``answerCallbackQuery`` calls: ``callback_query_id, update_id, text, show_alert``..."""
        with self._lock:
            return copy.deepcopy(self._callback_answers)

    def callback_answer(self, update_id: int) -> dict[str, Any] | None:
        """The answer given to the callback query of update ``update_id`` (or ``None``)."""
        with self._lock:
            for entry in self._callbacks.values():
                if entry["update_id"] == update_id:
                    return copy.deepcopy(entry["answer"])
            return None

    @property
    def commands(self) -> list[dict[str, Any]] | None:
        """The command list of the last ``setMyCommands`` (any scope), or ``None``."""
        with self._lock:
            return copy.deepcopy(self._last_commands)

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        with self._lock:
            key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
            return copy.deepcopy(self._commands.get(key, []))

    @property
    def webhook(self) -> dict[str, Any] | None:
        """Current webhook (``url, secret_token, max_connections, ...``) or ``None``."""
        with self._lock:
            return None if self._webhook is None else self._webhook.info()

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook POST attempt: ``update_id, attempt, status`` (int or error text), ``t``."""
        with self._lock:
            return copy.deepcopy(self._webhook_deliveries)

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed (polling) / not yet delivered (webhook)."""
        with self._lock:
            return len(self._queue)

    def update(self, update_id: int) -> dict[str, Any]:
        """The update dict that was queued under ``update_id``."""
        with self._lock:
            return copy.deepcopy(self._all_updates[update_id])

    def reset_records(self) -> None:
        """Forget recorded calls/sent/edits/deletions/answers (keeps messages and updates)."""
        with self._lock:
            self._calls.clear()
            self._sent.clear()
            self._edits.clear()
            self._deleted.clear()
            self._callback_answers.clear()
            self._webhook_deliveries.clear()
            self.too_many_requests_count = 0

    # ------------------------------------------------------------------------------------------
    # waiting helpers

    def _timeout_message(self, what: str, timeout: float, *, blocking: bool = True) -> str:
        with self._lock:
            recent = [
                (c["method"], c["status"], c["params"].get("chat_id"), c["params"].get("text"))
                for c in self._calls[-10:]
            ]
            pending = len(self._queue)
        hint = ""
        if blocking:
            try:
                asyncio.get_running_loop()
                hint = (
                    "\nNote: wait_for()/wait_sent() was called inside a running event loop and "
                    "blocked it; if the bot runs in this loop use `await tg.wait_for_async(...)`."
                )
            except RuntimeError:
                pass
        return (
            f"timed out after {timeout}s waiting for {what}; pending updates: {pending}; "
            f"last calls (method, status, chat_id, text): {recent}{hint}"
        )

    @staticmethod
    def _describe(predicate: Callable[[], Any], message: str | None) -> str:
        if message:
            return message
        return getattr(predicate, "__qualname__", repr(predicate))

    def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        *,
        interval: float = 0.005,
        message: str | None = None,
    ) -> Any:
        """Poll ``predicate()`` (blocking) until truthy and return its value.

        Raises ``AssertionError`` (with recent calls) on timeout.  Blocks the calling thread: in
        async tests whose bot runs in the same event loop use :meth:`wait_for_async`.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(
                    self._timeout_message(self._describe(predicate, message), timeout)
                )
            time.sleep(interval)

    async def wait_for_async(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        *,
        interval: float = 0.005,
        message: str | None = None,
    ) -> Any:
        """Like :meth:`wait_for` but yields to the event loop between polls."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(
                    self._timeout_message(
                        self._describe(predicate, message), timeout, blocking=False
                    )
                )
            await asyncio.sleep(interval)

    def _sent_at_least(self, chat_id: int | str, count: int) -> Callable[[], Any]:
        def enough() -> list[dict[str, Any]] | None:
            if self.sent_count(chat_id) < count:
                return None
            return self.sent(chat_id)

        return enough

    def wait_sent(
        self, chat_id: int | str, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Block until at least ``count`` messages were sent to ``chat_id``; return them all."""
        return self.wait_for(
            self._sent_at_least(chat_id, count),
            timeout,
            message=f"{count} message(s) sent to chat {chat_id} (have {len(self.sent(chat_id))})",
        )

    async def wait_sent_async(
        self, chat_id: int | str, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        return await self.wait_for_async(
            self._sent_at_least(chat_id, count),
            timeout,
            message=f"{count} message(s) sent to chat {chat_id}",
        )

    # ------------------------------------------------------------------------------------------
    # HTTP handling

    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        params: dict[str, Any] = {}
        files: dict[str, dict[str, Any]] = {}
        for key, value in request.query.items():
            params[key] = _coerce(key, value)
        if not request.body_exists:
            return params, files
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON") from None
            if isinstance(body, dict):
                params.update(body)
            return params, files
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, field in form.items():
                if isinstance(field, web.FileField):
                    data = field.file.read()
                    files[key] = {
                        "filename": field.filename,
                        "content_type": field.content_type,
                        "size": len(data),
                    }
                else:
                    params[key] = _coerce(key, str(field))
        return params, files

    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> web.Response:
        return web.Response(
            status=status, body=json.dumps(body).encode(), content_type="application/json"
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        t = time.monotonic()
        tail = request.match_info["tail"]
        if not tail.startswith("bot") or "/" not in tail:
            return self._json(404, _ApiError(404).body())
        token, _, method = tail[3:].partition("/")
        try:
            params, files = await self._read_params(request)
        except _ApiError as exc:
            return self._json(exc.status, exc.body())
        known = self._methods.get(method.lower())
        name = known[0] if known else method
        record: dict[str, Any] = {"method": name, "params": params, "t": t, "status": None}
        if files:
            record["files"] = files
        with self._lock:
            self._calls.append(record)
            delays = self._delays.get(method.lower())
            delay = delays.popleft() if delays else None
            fault = None
            if token == self._token:
                faults = self._faults.get(method.lower())
                fault = faults.popleft() if faults else None
        if delay:
            await asyncio.sleep(delay)

        status, body = 200, None
        try:
            if token != self._token:
                raise _ApiError(401)
            if fault is not None and fault.kind == "drop" and not fault.after:
                return self._drop(request, record)
            if fault is not None and fault.kind == "error":
                raise _ApiError(fault.status, fault.description, fault.retry_after)
            if known is None:
                raise _ApiError(404)
            if name == "getUpdates":
                result = await self._get_updates(params)
            else:
                with self._lock:
                    self._current_files = files
                    try:
                        result = known[1](params)
                    finally:
                        self._current_files = {}
            body = {"ok": True, "result": result}
            if name == "setWebhook":
                body["description"] = (
                    "Webhook was set" if params.get("url") else "Webhook is already deleted"
                )
            elif name == "deleteWebhook":
                body["description"] = "Webhook was deleted"
        except _ApiError as exc:
            status, body = exc.status, exc.body()
        except Exception as exc:  # a bug in the fake or an odd request: make it visible
            error = _ApiError(500, f"Internal Server Error: FakeTelegram failed: {exc!r}")
            status, body = 500, error.body()
        with self._lock:
            record["status"] = status
        if fault is not None and fault.kind == "drop" and fault.after:
            return self._drop(request, record)
        return self._json(status, body)

    def _drop(self, request: web.Request, record: dict[str, Any]) -> web.StreamResponse:
        with self._lock:
            record["status"] = "dropped"
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp then just closes the (already closed) connection

    # ------------------------------------------------------------------------------------------
    # getUpdates / webhook

    def _m_getUpdates_unused(self, params: dict[str, Any]) -> Any:  # pragma: no cover
        raise AssertionError("getUpdates is handled asynchronously")

    def _confirm_locked(self, offset: int | None) -> None:
        if not offset:
            return
        if offset < 0:
            keep = [e for e in self._queue if not e.forced][offset:]
            keep_ids = {id(e) for e in keep}
            self._queue = [e for e in self._queue if e.forced or id(e) in keep_ids]
            return
        self._queue = [e for e in self._queue if e.forced or e.update_id >= offset]

    def _take_locked(self, limit: int) -> list[dict[str, Any]]:
        batch: list[_Entry] = []
        forced: list[_Entry] = []
        for entry in self._queue:
            if len(batch) >= limit:
                break
            batch.append(entry)
            if entry.forced:
                forced.append(entry)
        if forced:
            forced_ids = {id(e) for e in forced}
            self._queue = [e for e in self._queue if id(e) not in forced_ids]
        batch.sort(key=lambda e: e.update_id)
        return [copy.deepcopy(e.update) for e in batch]

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        timeout = float(params.get("timeout") or 0)
        limit = max(1, min(100, _int_param(params, "limit", 100) or 100))
        offset = _int_param(params, "offset")
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._webhook is not None:
                raise _ApiError(409, _WEBHOOK_ACTIVE)
            self._poll_generation += 1
            generation = self._poll_generation
            self._confirm_locked(offset)
        self._wake_all()  # terminates an older concurrent long poll
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise _ApiError(409)
                batch = self._take_locked(limit) if self._webhook is None else []
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._poll_event
            assert event is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url:
            self._m_deleteWebhook(params)
            return True
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        max_connections = _int_param(params, "max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        for entry in self._queue:
            entry.inflight = False
        self._webhook = _Webhook(
            url=url,
            secret_token=None if secret is None else str(secret),
            max_connections=max_connections,
            allowed_updates=params.get("allowed_updates"),
            ip_address=params.get("ip_address"),
        )
        self._webhook_busy_keys = set()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_pump())
        self._wake_all()
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self._webhook = None
        self._webhook_busy_keys = set()
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._wake_all()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        hook = self._webhook
        if hook is not None:
            info["url"] = hook.url
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.allowed_updates is not None:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    @staticmethod
    def _update_key(update: dict[str, Any]) -> Any:
        """Updates with the same key are delivered to the webhook strictly one after another."""
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if kind in update:
                return ("chat", update[kind].get("chat", {}).get("id"))
        query = update.get("callback_query")
        if query is not None:
            message = query.get("message") or {}
            chat_id = message.get("chat", {}).get("id", query.get("from", {}).get("id"))
            return ("chat", chat_id)
        return ("update", update.get("update_id"))

    async def _webhook_pump(self) -> None:
        """Start deliveries: up to max_connections in flight, per-chat order preserved."""
        event = self._webhook_event
        assert event is not None
        while not self._closing:
            event.clear()
            with self._lock:
                hook = self._webhook
                if hook is None:
                    self._webhook_task = None
                    return
                starting: list[tuple[_Entry, Any]] = []
                busy = self._webhook_busy_keys
                in_flight = len(busy)
                for entry in self._queue:
                    if in_flight >= hook.max_connections:
                        break
                    key = self._update_key(entry.update)
                    if entry.inflight or key in busy:
                        continue  # in flight, or an earlier update of this chat is
                    busy.add(key)
                    entry.inflight = True
                    in_flight += 1
                    starting.append((entry, key))
            for entry, key in starting:
                task = asyncio.get_running_loop().create_task(self._deliver(hook, entry, key))
                self._delivery_tasks.add(task)
                task.add_done_callback(self._delivery_tasks.discard)
            await event.wait()

    async def _deliver(self, hook: _Webhook, entry: _Entry, key: Any) -> None:
        session = self._session
        assert session is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        body = json.dumps(entry.update).encode()
        delivered = False
        try:
            for attempt in range(1, self.webhook_max_attempts + 1):
                if self._webhook is not hook:
                    break
                outcome: int | str
                try:
                    async with session.post(
                        hook.url,
                        data=body,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                    ) as response:
                        await response.read()
                        outcome = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self._webhook_deliveries.append(
                        {
                            "update_id": entry.update_id,
                            "attempt": attempt,
                            "status": outcome,
                            "secret_token": hook.secret_token,
                            "t": time.monotonic(),
                        }
                    )
                    if isinstance(outcome, int) and 200 <= outcome < 300:
                        delivered = True
                    else:
                        hook.last_error_date = int(time.time())
                        hook.last_error_message = (
                            f"Wrong response from the webhook: {outcome}"
                            if isinstance(outcome, int)
                            else f"Connection failed: {outcome}"
                        )
                if delivered:
                    break
                if attempt < self.webhook_max_attempts:
                    await asyncio.sleep(self.webhook_retry_delay * attempt)
        finally:
            with self._lock:
                entry.inflight = False
                if delivered or self._webhook is hook:
                    # delivered, or given up after max attempts: drop it
                    self._queue = [e for e in self._queue if e is not entry]
                if self._webhook is hook:
                    self._webhook_busy_keys.discard(key)
            if self._webhook_event is not None:
                self._webhook_event.set()

    # ------------------------------------------------------------------------------------------
    # API methods (called with the lock held, on the server loop)

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _target_chat_locked(self, params: dict[str, Any], method: str) -> int | str:
        if "chat_id" not in params or params["chat_id"] in ("", None):
            raise _bad("chat_id is empty")
        chat_id = _norm_chat(params["chat_id"])
        if self.known_chats_only and chat_id not in self._chats:
            raise _bad("chat not found")
        if chat_id in self._blocked:
            raise _ApiError(403, _BLOCKED)
        return chat_id

    def _rate_check_locked(self, method: str, chat_id: int | str) -> None:
        if method not in RATE_LIMITED_METHODS:
            return
        if self._rate_overall is None and self._rate_per_chat is None:
            return
        now = time.monotonic()
        window = self._window
        if self._rate_overall is not None:
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= max(1, math.floor(self._rate_overall)):
                self.too_many_requests_count += 1
                raise _ApiError(429, retry_after=1)
        bucket = None
        if self._rate_per_chat is not None:
            capacity = float(max(1, self._burst_per_chat))
            bucket = self._buckets.setdefault(chat_id, [capacity, now])
            bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * self._rate_per_chat)
            bucket[1] = now
            if bucket[0] < 1.0:
                self.too_many_requests_count += 1
                raise _ApiError(429, retry_after=1)
        if self._rate_overall is not None:
            window.append(now)
        if bucket is not None:
            bucket[0] -= 1.0

    def _record_sent_locked(
        self, method: str, chat_id: int | str, message: dict[str, Any], params: dict[str, Any]
    ) -> None:
        self._sent.append(
            {
                "method": method,
                "chat_id": chat_id,
                "message_id": message["message_id"],
                "text": params.get("text"),
                "caption": params.get("caption"),
                "parse_mode": params.get("parse_mode"),
                "reply_markup": params.get("reply_markup"),
                "params": params,
                "date": message["date"],
                "t": time.monotonic(),
            }
        )

    def _new_bot_message_locked(self, chat_id: int | str) -> dict[str, Any]:
        return {
            "message_id": self._new_message_id_locked(chat_id),
            "from": self._bot_user,
            "chat": self._chat_locked(chat_id),
            "date": int(time.time()),
        }

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat_locked(params, "sendMessage")
        text = params.get("text")
        if text is None or str(text).strip() == "":
            raise _bad("message text is empty")
        text = str(text)
        plain = _plain_text(text, params.get("parse_mode"), self.validate_markup)
        if len(plain) > 4096:
            raise _bad("message is too long")
        markup = _check_inline_keyboard(params.get("reply_markup"))
        self._rate_check_locked("sendMessage", chat_id)
        message = self._new_bot_message_locked(chat_id)
        message["text"] = plain
        if isinstance(params.get("entities"), list):
            message["entities"] = params["entities"]
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        self._record_sent_locked("sendMessage", chat_id, message, params)
        return copy.deepcopy(message)

    def _send_media_locked(self, method: str, params: dict[str, Any], field: str) -> dict[str, Any]:
        chat_id = self._target_chat_locked(params, method)
        files = self._current_files
        source = params.get(field)
        if isinstance(source, str) and source.startswith("attach://"):
            uploaded = files.get(source[len("attach://") :])
        else:
            uploaded = files.get(field)
        if source is None and uploaded is None:
            raise _bad(f"there is no {field} in the request")
        markup = _check_inline_keyboard(params.get("reply_markup"))
        caption = params.get("caption")
        if caption is not None:
            caption = _plain_text(str(caption), params.get("parse_mode"), self.validate_markup)
            if len(caption) > 1024:
                raise _bad("message caption is too long")
        self._rate_check_locked(method, chat_id)
        message = self._new_bot_message_locked(chat_id)
        if caption is not None:
            message["caption"] = caption
        file_id, unique = self._file_ids(field)
        size = uploaded["size"] if uploaded else 1000
        if field == "photo":
            message["photo"] = [
                {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "width": 800,
                    "height": 600,
                    "file_size": size,
                }
            ]
        else:
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": unique,
                "file_name": (uploaded or {}).get("filename") or "file",
                "mime_type": (uploaded or {}).get("content_type") or "application/octet-stream",
                "file_size": size,
            }
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        self._record_sent_locked(method, chat_id, message, params)
        if uploaded is not None:
            self._sent[-1]["file"] = dict(uploaded)
        return copy.deepcopy(message)

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_media_locked("sendPhoto", params, "photo")

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_media_locked("sendDocument", params, "document")

    def _editable_locked(self, params: dict[str, Any], method: str) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")
        chat_id = self._target_chat_locked(params, method)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _bad("message to edit not found")
        if not message.get("from", {}).get("is_bot"):
            raise _bad("message can't be edited")
        return message

    def _record_edit_locked(
        self, method: str, message: dict[str, Any], params: dict[str, Any]
    ) -> None:
        message["edit_date"] = int(time.time())
        self._edits.append(
            {
                "method": method,
                "chat_id": message["chat"]["id"],
                "message_id": message["message_id"],
                "text": params.get("text"),
                "reply_markup": params.get("reply_markup"),
                "params": params,
                "t": time.monotonic(),
            }
        )

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable_locked(params, "editMessageText")
        text = params.get("text")
        if text is None or str(text).strip() == "":
            raise _bad("message text is empty")
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        plain = _plain_text(str(text), params.get("parse_mode"), self.validate_markup)
        if len(plain) > 4096:
            raise _bad("MESSAGE_TOO_LONG")
        markup = _check_inline_keyboard(params.get("reply_markup"))
        entities = params.get("entities") if isinstance(params.get("entities"), list) else None
        if (
            plain == message.get("text")
            and markup == message.get("reply_markup")
            and entities == message.get("entities")
        ):
            raise _bad(_NOT_MODIFIED)
        self._rate_check_locked("editMessageText", message["chat"]["id"])
        message["text"] = plain
        if entities is None:
            message.pop("entities", None)
        else:
            message["entities"] = entities
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self._record_edit_locked("editMessageText", message, params)
        return copy.deepcopy(message)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable_locked(params, "editMessageReplyMarkup")
        markup = _check_inline_keyboard(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise _bad(_NOT_MODIFIED)
        self._rate_check_locked("editMessageReplyMarkup", message["chat"]["id"])
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self._record_edit_locked("editMessageReplyMarkup", message, params)
        return copy.deepcopy(message)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        entry = self._callbacks.get(query_id)
        if entry is None or entry["answer"] is not None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        answer = {
            "callback_query_id": query_id,
            "update_id": entry["update_id"],
            "text": text,
            "show_alert": bool(params.get("show_alert", False)),
            "url": params.get("url"),
            "cache_time": params.get("cache_time"),
            "t": time.monotonic(),
        }
        entry["answer"] = answer
        self._callback_answers.append(answer)
        return True

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        if "chat_id" not in params:
            raise _bad("chat_id is empty")
        chat_id = _norm_chat(params["chat_id"])
        message_id = _int_param(params, "message_id")
        if message_id is None or (chat_id, message_id) not in self._messages:
            raise _bad("message to delete not found")
        del self._messages[(chat_id, message_id)]
        self._deleted.append((chat_id, message_id))
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description") or "") <= 256:
                raise _bad("command description is empty")
        self._commands[self._commands_key(params)] = commands
        self._last_commands = commands
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _m_close(self, params: dict[str, Any]) -> bool:
        return True

    def _m_logOut(self, params: dict[str, Any]) -> bool:
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._target_chat_locked(params, "sendChatAction")
        return True

    def _m_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        # As reachable as sending is: a group Heard could post to is found.
        chat_id = self._target_chat_locked(params, "getChat")
        chat = copy.deepcopy(self._chat_locked(chat_id))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    def _m_setMyDescription(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setMyShortDescription(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setMyName(self, params: dict[str, Any]) -> bool:
        return True

    def _m_setChatMenuButton(self, params: dict[str, Any]) -> bool:
        return True


def buttons(markup: dict[str, Any] | None) -> list[tuple[str, str | None]]:
    """Flatten an ``inline_keyboard`` reply_markup dict into ``(text, callback_data)`` pairs."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [(b["text"], b.get("callback_data")) for row in markup["inline_keyboard"] for b in row]
