"""A fake Slack Web API server plus helpers that sign requests the way Slack does.

``FakeSlack`` is a real aiohttp HTTP server on 127.0.0.1 running in a background thread with
its own event loop, so the *real* ``slack_sdk`` clients (sync and async) and the *real*
``slack_bolt`` ``AsyncApp`` can talk to it over HTTP.  Point a client at it with
``AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)``.

The module-level helpers build Events API / slash command / interactivity bodies and sign them
with the real v0 HMAC-SHA256 scheme so they can be sent to Heard's own HTTP endpoint with
``SlackClientForTests``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import math
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

__all__ = [
    "API_APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "FakeSlack",
    "SlackClientForTests",
    "block_actions_body",
    "bot_message_event",
    "command_body",
    "dm_channel_id",
    "dm_message_event",
    "event_body",
    "sign",
    "url_verification_body",
    "view_submission_body",
]

TEAM_ID = "T0TEAM"
API_APP_ID = "A0APP"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
TEAM_DOMAIN = "heard-test"
DEFAULT_BOT_TOKEN = "xoxb-test-heard-0000"
DEFAULT_APP_TOKEN = "xapp-test-heard-0000"
VERIFICATION_TOKEN = "legacy-verification-token"

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_RECORDED_HEADERS = (
    "authorization",
    "content-type",
    "user-agent",
    "x-slack-retry-num",
    "x-slack-retry-reason",
)

_ERROR_FOR_STATUS = {
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def dm_channel_id(user_id: str) -> str:
    """The stable DM channel id FakeSlack hands out for ``user_id`` ("D" + 10 hex chars)."""
    return "D" + hashlib.sha1(user_id.encode()).hexdigest()[:10].upper()


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int | None = None  # None -> time-window fault
    until: float | None = None


class FakeSlack:
    """Fake Slack Web API on 127.0.0.1 served from a background thread.

    Usable from sync and async tests; inspection methods are thread-safe.  In async tests prefer
    ``await fake.async_wait_for(...)`` so the test's event loop (which may be running the app
    under test) is not blocked.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        team_id: str = TEAM_ID,
        app_token: str = DEFAULT_APP_TOKEN,
        rate_limit_per_channel: float | None = None,
        rate_limit_burst: int = 3,
        rate_limited_methods: Iterable[str] = ("chat.postMessage", "chat.postEphemeral"),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_token = app_token
        self.host = host
        self.rate_limit_per_channel = rate_limit_per_channel
        self.rate_limit_burst = max(1, int(rate_limit_burst))
        self.rate_limited_methods = frozenset(rate_limited_methods)
        self._requested_port = port
        self.port: int | None = None

        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def _reset_state(self) -> None:
        with self._lock:
            self._calls: list[dict[str, Any]] = []
            self._messages: list[dict[str, Any]] = []
            self._uploads: dict[str, dict[str, Any]] = {}
            self._views: list[dict[str, Any]] = []
            self._faults: dict[str, list[_Fault]] = {}
            self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
            self._latency: dict[str, float] = {}
            self._users: dict[str, dict[str, Any]] = {}
            self._outside: set[str] = set()
            self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
            self._ts_last_us = 0
            self._id_counter = 0
            self.too_many_requests_count = 0

    def reset(self) -> None:
        """Forget recorded calls/messages/uploads and clear faults, handlers and latency."""
        self._reset_state()

    def start(self) -> FakeSlack:
        if self._thread is not None:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name="FakeSlack", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeSlack did not start within 10s")
        if self._start_error is not None:
            raise RuntimeError("FakeSlack failed to start") from self._start_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop)
            with contextlib.suppress(Exception):  # best effort shutdown
                fut.result(10)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None
        self._runner = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # pragma: no cover - surfaced through start()
            self._start_error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("POST", "/upload/{file_id}", self._handle_upload)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self.port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Web API base url for slack_sdk clients: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ configuration

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        count: int = 1,
        error: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with HTTP ``status``.

        ``method`` is a Web API method name, ``"upload"`` for the file upload URL, or ``"*"``
        for every method.  429 answers carry ``Retry-After: retry_after`` and
        ``{"ok": false, "error": "ratelimited"}``.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(
                    status=status,
                    retry_after=retry_after if status == 429 else None,
                    error=error,
                    remaining=count,
                )
            )

    def fail_for(
        self,
        method: str,
        seconds: float,
        status: int = 500,
        *,
        retry_after: int | None = 1,
        error: str | None = None,
    ) -> None:
        """Answer every call of ``method`` (or ``"*"``) with ``status`` for ``seconds``."""
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(
                    status=status,
                    retry_after=retry_after if status == 429 else None,
                    error=error,
                    until=time.monotonic() + seconds,
                )
            )

    def respond_error(self, method: str, error: str = "channel_not_found", count: int = 1) -> None:
        """Answer the next ``count`` calls with HTTP 200 ``{"ok": false, "error": error}``."""
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(status=200, retry_after=None, error=error, remaining=count)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_handler(
        self, method: str, handler: Callable[[dict[str, Any]], dict[str, Any]] | None
    ) -> None:
        """Override a method: ``handler(params) -> response dict`` (runs in the server thread)."""
        with self._lock:
            if handler is None:
                self._handlers.pop(method, None)
            else:
                self._handlers[method] = handler

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers of ``method`` (or ``"*"``) by ``seconds``."""
        with self._lock:
            self._latency[method] = seconds

    def leave_channel(self, channel: str) -> None:
        """The app is no longer a member of ``channel``: ``conversations.info``
        says ``is_member: false`` and ``chat.postMessage`` there fails with
        ``not_in_channel``."""
        with self._lock:
            self._outside.add(channel)

    def add_user(self, user_id: str, **fields: Any) -> None:
        """Customise what users.info returns for ``user_id`` (merged into the default)."""
        with self._lock:
            self._users[user_id] = fields

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Recorded requests: ``{"method", "params", "headers", "time", "status", "response"}``.

        ``time`` is ``time.monotonic()`` at arrival; ``status`` the HTTP status answered;
        ``response`` the JSON body answered (or the text for uploads).
        """
        with self._lock:
            out = [c for c in self._calls if method is None or c["method"] == method]
            return copy.deepcopy(out)

    def messages(
        self, channel: str | None = None, *, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages seen, oldest first.

        ``kind`` is ``"message"`` (chat.postMessage), ``"ephemeral"`` (chat.postEphemeral) or
        ``"update"`` (chat.update).  Each has ``channel, ts, text, blocks, thread_ts, user,
        params, deleted``.  ``blocks`` is always a decoded list (or None).
        """
        with self._lock:
            out = [
                m
                for m in self._messages
                if (channel is None or m["channel"] == channel)
                and (kind is None or m["kind"] == kind)
            ]
            return copy.deepcopy(out)

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """File uploads (files upload v2 flow), in order of files.getUploadURLExternal.

        Each: ``file_id, filename, title, declared_length, size, content (bytes), first_bytes,
        is_png, uploaded, completed, channel, channels, initial_comment, thread_ts``.
        """
        with self._lock:
            return copy.deepcopy(list(self._uploads.values()))

    @property
    def views(self) -> list[dict[str, Any]]:
        """Views opened/updated/pushed: ``{"method", "trigger_id", "view", "id"}``."""
        with self._lock:
            return copy.deepcopy(self._views)

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, *, message: str = ""
    ) -> Any:
        """Poll ``predicate`` until truthy and return its value (blocks the calling thread)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_text(predicate, timeout, message))
            time.sleep(0.01)

    async def async_wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, *, message: str = ""
    ) -> Any:
        """Like ``wait_for`` but yields to the running event loop between polls."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_text(predicate, timeout, message))
            await asyncio.sleep(0.01)

    def _message_predicate(
        self, channel: str | None, contains: str | None, kind: str | None
    ) -> Callable[[], dict[str, Any] | None]:
        def find() -> dict[str, Any] | None:
            for m in self.messages(channel, kind=kind):
                if (
                    contains is None
                    or contains in (m.get("text") or "")
                    or contains in json.dumps(m.get("blocks") or [])
                ):
                    return m
            return None

        return find

    def wait_for_message(
        self,
        channel: str | None = None,
        *,
        contains: str | None = None,
        kind: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Wait for the first message in channel/kind whose text or blocks contain ``contains``."""
        what = f"message channel={channel!r} contains={contains!r} kind={kind!r}"
        return self.wait_for(
            self._message_predicate(channel, contains, kind), timeout, message=what
        )

    async def async_wait_for_message(
        self,
        channel: str | None = None,
        *,
        contains: str | None = None,
        kind: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        what = f"message channel={channel!r} contains={contains!r} kind={kind!r}"
        return await self.async_wait_for(
            self._message_predicate(channel, contains, kind), timeout, message=what
        )

    def _timeout_text(self, predicate: Callable[[], Any], timeout: float, message: str) -> str:
        name = message or getattr(predicate, "__qualname__", repr(predicate))
        with self._lock:
            recent = self._calls[-15:]
            lines = [f"  {c['method']} -> {c['status']} {_short(c['params'])}" for c in recent]
            msgs = [
                f"  [{m['kind']}] {m['channel']} ts={m['ts']} text={_short(m.get('text'))}"
                for m in self._messages[-10:]
            ]
        return (
            f"FakeSlack.wait_for timed out after {timeout}s waiting for {name}\n"
            f"last calls ({len(lines)}):\n" + ("\n".join(lines) or "  (none)") + "\n"
            f"last messages ({len(msgs)}):\n" + ("\n".join(msgs) or "  (none)")
        )

    # ------------------------------------------------------------------ helpers (server thread)

    def _next_ts(self) -> str:
        with self._lock:
            us = max(int(time.time() * 1_000_000), self._ts_last_us + 1)
            self._ts_last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._id_counter += 1
            return f"{prefix}{self._id_counter:08d}"

    def _take_fault(self, method: str) -> _Fault | None:
        now = time.monotonic()
        with self._lock:
            for key in (method, "*"):
                faults = self._faults.get(key)
                if not faults:
                    continue
                for fault in list(faults):
                    if fault.until is not None:
                        if now < fault.until:
                            return fault
                        faults.remove(fault)
                        continue
                    assert fault.remaining is not None
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.remove(fault)
                    return fault
        return None

    def _rate_limited(self, method: str, params: Mapping[str, Any]) -> int | None:
        """Token bucket per (method, channel); returns Retry-After seconds when exceeded."""
        rate = self.rate_limit_per_channel
        if not rate or method not in self.rate_limited_methods:
            return None
        channel = str(params.get("channel") or "")
        now = time.monotonic()
        burst = float(self.rate_limit_burst)
        with self._lock:
            tokens, last = self._buckets.get((method, channel), (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[(method, channel)] = (tokens - 1.0, now)
                return None
            self._buckets[(method, channel)] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        request: web.Request,
        arrived: float,
        status: int,
        response: Any,
    ) -> None:
        headers = {k: request.headers[k] for k in _RECORDED_HEADERS if k in request.headers}
        with self._lock:
            if status == 429:
                self.too_many_requests_count += 1
            self._calls.append(
                {
                    "method": method,
                    "params": params,
                    "headers": headers,
                    "time": arrived,
                    "status": status,
                    "response": response,
                }
            )

    async def _delay(self, method: str) -> None:
        with self._lock:
            delay = self._latency.get(method, self._latency.get("*", 0.0))
        if delay:
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await _read_params(request)
        status, body, headers = self._dispatch(method, params, request)
        await self._delay(method)
        self._record(method, params, request, arrived, status, body)
        return web.json_response(body, status=status, headers=headers)

    def _fault_response(self, fault: _Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers: dict[str, str] = {}
        if fault.status == 429:
            retry_after = fault.retry_after if fault.retry_after is not None else 1
            if fault.until is not None:
                retry_after = max(retry_after, math.ceil(fault.until - time.monotonic()))
            headers["Retry-After"] = str(retry_after)
        error = fault.error or _ERROR_FOR_STATUS.get(fault.status, "fatal_error")
        return fault.status, {"ok": False, "error": error}, headers

    def _dispatch(
        self, method: str, params: dict[str, Any], request: web.Request
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_response(fault)

        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.get("token")
        if token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}

        retry_after = self._rate_limited(method, params)
        if retry_after is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}

        with self._lock:
            custom = self._handlers.get(method)
        if custom is not None:
            return 200, custom(params), {}

        handler = _METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        result = handler(self, params)
        if isinstance(result, tuple):
            return 200, result[0], result[1]
        return 200, result, {}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        file_id = request.match_info["file_id"]
        content, part_filename = await _read_upload_bytes(request)
        params = {"file_id": file_id, "size": len(content), "filename": part_filename}
        fault = self._take_fault("upload")
        if fault is not None:
            status, body, headers = self._fault_response(fault)
            text = json.dumps(body)
        else:
            headers = {}
            with self._lock:
                upload = self._uploads.get(file_id)
                if upload is None:
                    status, text = 404, "file_not_found"
                else:
                    upload.update(
                        content=content,
                        size=len(content),
                        first_bytes=content[:16],
                        is_png=content.startswith(PNG_MAGIC),
                        uploaded=True,
                    )
                    status, text = 200, f"OK - {len(content)}"
        await self._delay("upload")
        self._record("upload", params, request, arrived, status, text)
        return web.Response(status=status, text=text, headers=headers, content_type="text/plain")

    # ------------------------------------------------------------------ Web API methods

    def _bot_message(self, params: Mapping[str, Any], ts: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": API_APP_ID,
            "team": self.team_id,
            "text": params.get("text") or "",
            "ts": ts,
        }
        blocks = _decode_json(params.get("blocks"))
        if blocks:
            msg["blocks"] = blocks
        if params.get("thread_ts"):
            msg["thread_ts"] = params["thread_ts"]
        return msg

    def _resolve_channel(self, channel: str) -> str:
        # Slack accepts a user id as channel for chat.postMessage and posts to the app DM.
        if channel[:1] in ("U", "W"):
            return dm_channel_id(channel)
        return channel

    def _check_message_params(self, params: Mapping[str, Any]) -> str | None:
        if not params.get("channel"):
            return "channel_not_found"
        blocks_raw = params.get("blocks")
        blocks = _decode_json(blocks_raw)
        if blocks_raw not in (None, "") and not isinstance(blocks, list):
            return "invalid_blocks_format"
        if isinstance(blocks, list) and len(blocks) > 50:
            return "invalid_blocks"
        if not params.get("text") and not blocks and not params.get("attachments"):
            return "no_text"
        if len(str(params.get("text") or "")) > 40000:
            return "msg_too_long"
        return None

    def _m_auth_test(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        body = {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Heard Test",
            "user": "heard",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }
        return body, {"x-oauth-scopes": "chat:write,im:write,im:history,commands,files:write"}

    def _m_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        error = self._check_message_params(params)
        if error:
            return {"ok": False, "error": error}
        if str(params["channel"]) in self._outside:
            return {"ok": False, "error": "not_in_channel"}
        channel = self._resolve_channel(str(params["channel"]))
        ts = self._next_ts()
        self._add_message("message", channel, ts, params)
        return {"ok": True, "channel": channel, "ts": ts, "message": self._bot_message(params, ts)}

    def _m_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        error = self._check_message_params(params)
        if error:
            return {"ok": False, "error": error}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        channel = self._resolve_channel(str(params["channel"]))
        ts = self._next_ts()
        self._add_message("ephemeral", channel, ts, params)
        return {"ok": True, "message_ts": ts}

    def _m_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        ts = str(params.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            exists = any(
                m["channel"] == channel and m["ts"] == ts and m["kind"] == "message"
                for m in self._messages
            )
        if not exists:
            return {"ok": False, "error": "message_not_found"}
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            return {"ok": False, "error": "no_text"}
        self._add_message("update", channel, ts, params)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": params.get("text") or "",
            "message": self._bot_message(params, ts),
        }

    def _m_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        ts = str(params.get("ts") or "")
        found = False
        with self._lock:
            for m in self._messages:
                if m["channel"] == channel and m["ts"] == ts and not m["deleted"]:
                    m["deleted"] = True
                    found = True
        if not found:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _add_message(self, kind: str, channel: str, ts: str, params: Mapping[str, Any]) -> None:
        entry = {
            "kind": kind,
            "channel": channel,
            "ts": ts,
            "text": params.get("text"),
            "blocks": _decode_json(params.get("blocks")) or None,
            "thread_ts": params.get("thread_ts"),
            "user": params.get("user"),
            "params": dict(params),
            "deleted": False,
            "time": time.monotonic(),
        }
        with self._lock:
            self._messages.append(entry)

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = params.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        if params.get("channel"):
            return {"ok": True, "channel": {"id": params["channel"]}}
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        user_ids = [u.strip() for u in str(users).split(",") if u.strip()]
        if len(user_ids) == 1:
            channel_id = dm_channel_id(user_ids[0])
        else:
            channel_id = (
                "G" + hashlib.sha1(",".join(sorted(user_ids)).encode()).hexdigest()[:10].upper()
            )
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel_id}}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        member = channel not in self._outside
        return {"ok": True, "channel": {"id": channel, "is_channel": True, "is_member": member}}

    def _m_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        length = params.get("length")
        if not filename or length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        try:
            declared = int(length)
        except (TypeError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        with self._lock:
            self._uploads[file_id] = {
                "file_id": file_id,
                "filename": filename,
                "title": None,
                "alt_txt": params.get("alt_txt"),
                "declared_length": declared,
                "size": None,
                "content": b"",
                "first_bytes": b"",
                "is_png": False,
                "uploaded": False,
                "completed": False,
                "channel": None,
                "channels": [],
                "initial_comment": None,
                "thread_ts": None,
            }
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = _decode_json(params.get("files"))
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channels: list[str] = []
        if params.get("channel_id"):
            channels.append(str(params["channel_id"]))
        if params.get("channels"):
            channels.extend(c for c in str(params["channels"]).split(",") if c)
        out = []
        with self._lock:
            for f in files:
                upload = self._uploads.get(str(f.get("id")))
                if upload is None or not upload["uploaded"]:
                    return {"ok": False, "error": "file_not_found"}
            for f in files:
                upload = self._uploads[str(f["id"])]
                upload.update(
                    title=f.get("title") or upload["filename"],
                    completed=True,
                    channel=channels[0] if channels else None,
                    channels=list(channels),
                    initial_comment=params.get("initial_comment"),
                    thread_ts=params.get("thread_ts"),
                )
                out.append(
                    {
                        "id": upload["file_id"],
                        "name": upload["filename"],
                        "title": upload["title"],
                        "mimetype": "image/png" if upload["is_png"] else "application/octet-stream",
                        "size": upload["size"],
                        "user": self.bot_user_id,
                        "channels": [c for c in channels if c[:1] == "C"],
                        "groups": [c for c in channels if c[:1] == "G"],
                        "ims": [c for c in channels if c[:1] == "D"],
                    }
                )
        return {"ok": True, "files": out}

    def _m_views(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        view = _decode_json(params.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if method in ("views.open", "views.push") and not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view_id = str(params.get("view_id") or self._next_id("V"))
        with self._lock:
            self._views.append(
                {
                    "method": method,
                    "trigger_id": params.get("trigger_id"),
                    "view": view,
                    "id": view_id,
                }
            )
        return {"ok": True, "view": {**view, "id": view_id, "team_id": self.team_id}}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user") or "")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        with self._lock:
            extra = copy.deepcopy(self._users.get(user_id, {}))
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": user_id == self.bot_user_id,
            "tz": "Europe/London",
            "locale": "en-GB",
            "profile": {"display_name": user_id.lower(), "real_name": f"User {user_id}"},
        }
        user.update(extra)
        return {"ok": True, "user": user}


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], Any]] = {
    "auth.test": FakeSlack._m_auth_test,
    "chat.postMessage": FakeSlack._m_post_message,
    "chat.postEphemeral": FakeSlack._m_post_ephemeral,
    "chat.update": FakeSlack._m_update,
    "chat.delete": FakeSlack._m_delete,
    "conversations.open": FakeSlack._m_conversations_open,
    "conversations.info": FakeSlack._m_conversations_info,
    "files.getUploadURLExternal": FakeSlack._m_get_upload_url,
    "files.completeUploadExternal": FakeSlack._m_complete_upload,
    "views.open": lambda self, p: self._m_views("views.open", p),
    "views.update": lambda self, p: self._m_views("views.update", p),
    "views.push": lambda self, p: self._m_views("views.push", p),
    "users.info": FakeSlack._m_users_info,
}


# ---------------------------------------------------------------------- request parsing


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method not in ("POST", "PUT", "PATCH") or not request.can_read_body:
        return params
    ctype = request.content_type
    if ctype == "application/json":
        raw = await request.read()
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"_invalid_json": raw.decode("utf-8", "replace")}
            if isinstance(data, dict):
                params.update(data)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = {"filename": value.filename, "size": len(value.file.read())}
            else:
                params[key] = value
    else:
        raw = await request.read()
        if raw:
            params["_body"] = raw.decode("utf-8", "replace")
    return params


async def _read_upload_bytes(request: web.Request) -> tuple[bytes, str | None]:
    if request.content_type == "multipart/form-data":
        form = await request.post()
        fallback: bytes | None = None
        for key, value in form.items():
            if isinstance(value, web.FileField):
                return value.file.read(), value.filename
            if key in ("file", "content") and fallback is None:
                fallback = str(value).encode()
        return fallback or b"", None
    return await request.read(), None


def _decode_json(value: Any) -> Any:
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------- signing


def sign(body: bytes | str, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack v0 request signature headers for ``body``.

    ``X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body))``.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(ts).encode() + b":" + raw
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def _new_ts() -> str:
    now = time.time()
    return f"{int(now)}.{int((now % 1) * 1_000_000):06d}"


def event_body(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    event_time: int | None = None,
) -> str:
    """A full Events API ``event_callback`` envelope as JSON text."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
    }
    return json.dumps(envelope)


def dm_message_event(
    user: str, channel: str, text: str, *, ts: str | None = None, team: str = TEAM_ID
) -> dict[str, Any]:
    """A ``message`` event a person sent in the app's DM (``channel_type: "im"``)."""
    ts = ts or _new_ts()
    return {
        "type": "message",
        "channel_type": "im",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": team,
        "client_msg_id": str(uuid.uuid4()),
    }


def bot_message_event(
    channel: str,
    text: str,
    *,
    ts: str | None = None,
    bot_id: str = BOT_ID,
    user: str = BOT_USER_ID,
    channel_type: str = "im",
    team: str = TEAM_ID,
) -> dict[str, Any]:
    """A ``message`` event for a message the bot itself posted (bolt ignores these)."""
    ts = ts or _new_ts()
    return {
        "type": "message",
        "channel_type": channel_type,
        "channel": channel,
        "user": user,
        "bot_id": bot_id,
        "app_id": API_APP_ID,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": team,
        "bot_profile": {"id": bot_id, "app_id": API_APP_ID, "name": "heard", "team_id": team},
    }


def url_verification_body(challenge: str) -> str:
    return json.dumps(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )


def command_body(
    command: str = "/heard",
    text: str = "invite",
    *,
    user_id: str,
    channel_id: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    user_name: str = "worker",
    channel_name: str = "directmessage",
    api_app_id: str = API_APP_ID,
) -> str:
    """A slash command body, form-encoded exactly like Slack sends it."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url
            or f"https://hooks.slack.com/commands/{team_id}/{uuid.uuid4().int % 10**12}/x",
            "trigger_id": trigger_id or f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:16]}",
        }
    )


def block_actions_body(
    *,
    user_id: str,
    channel_id: str,
    action_id: str,
    value: str,
    message_ts: str,
    block_id: str = "b",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    action_type: str = "button",
    is_ephemeral: bool = False,
    message: dict[str, Any] | None = None,
) -> str:
    """A ``block_actions`` interaction, form-encoded as ``payload=<json>``."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": _new_ts(),
    }
    if action_type == "button":
        action["value"] = value
        action["text"] = {"type": "plain_text", "text": value, "emoji": True}
    elif action_type in ("static_select", "radio_buttons"):
        action["selected_option"] = {"text": {"type": "plain_text", "text": value}, "value": value}
    else:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": team_id,
        },
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:16]}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "directmessage"},
        "state": {"values": {}},
        "response_url": response_url
        or f"https://hooks.slack.com/actions/{team_id}/{uuid.uuid4().int % 10**12}/x",
        "actions": [action],
    }
    if not is_ephemeral:
        payload["message"] = message or {
            "type": "message",
            "ts": message_ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": "",
            "team": team_id,
            "blocks": [],
        }
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    *,
    user_id: str,
    callback_id: str,
    values: dict[str, Any] | None = None,
    private_metadata: str = "",
    view_id: str = "V00000001",
    team_id: str = TEAM_ID,
) -> str:
    """A ``view_submission`` interaction, form-encoded as ``payload=<json>``.

    ``values`` is ``state.values``: ``{block_id: {action_id: {"type": ..., "value": ...}}}``.
    """
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": team_id,
        },
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:16]}",
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values or {}},
            "hash": uuid.uuid4().hex[:16],
            "app_id": API_APP_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload)})


# ---------------------------------------------------------------------- client


class SlackClientForTests:
    """Sends bodies to an app's HTTP endpoint signed like Slack does.

    ``post``/``apost`` return ``(status, headers, body_text)``; header names are lower-cased.
    ``content_type`` defaults to JSON when the body starts with ``{``, else form-encoded.
    """

    def __init__(self, signing_secret: str, *, timeout: float = 10.0) -> None:
        self.signing_secret = signing_secret
        self.timeout = timeout

    def headers_for(
        self,
        body: bytes | str,
        content_type: str | None = None,
        *,
        bad_signature: bool = False,
        timestamp_offset: int = 0,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, str]:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if content_type is None:
            content_type = (
                "application/json"
                if text.lstrip().startswith("{")
                else "application/x-www-form-urlencoded"
            )
        timestamp = int(time.time()) + int(timestamp_offset)
        secret = self.signing_secret + "-WRONG" if bad_signature else self.signing_secret
        headers = {"Content-Type": content_type, **sign(body, secret, timestamp)}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
        if retry_reason is not None:
            headers["X-Slack-Retry-Reason"] = retry_reason
        return headers

    def post(
        self,
        url: str,
        body: bytes | str,
        content_type: str | None = None,
        *,
        bad_signature: bool = False,
        timestamp_offset: int = 0,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        headers = self.headers_for(
            body,
            content_type,
            bad_signature=bad_signature,
            timestamp_offset=timestamp_offset,
            retry_num=retry_num,
            retry_reason=retry_reason,
        )
        data = body.encode("utf-8") if isinstance(body, str) else body
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return (
                    resp.status,
                    {k.lower(): v for k, v in resp.headers.items()},
                    resp.read().decode("utf-8", "replace"),
                )
        except urllib.error.HTTPError as e:
            return (
                e.code,
                {k.lower(): v for k, v in e.headers.items()},
                e.read().decode("utf-8", "replace"),
            )

    async def apost(
        self,
        url: str,
        body: bytes | str,
        content_type: str | None = None,
        *,
        bad_signature: bool = False,
        timestamp_offset: int = 0,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        headers = self.headers_for(
            body,
            content_type,
            bad_signature=bad_signature,
            timestamp_offset=timestamp_offset,
            retry_num=retry_num,
            retry_reason=retry_reason,
        )
        data = body.encode("utf-8") if isinstance(body, str) else body
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=data, headers=headers) as resp,
        ):
            text = await resp.text()
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, text
