"""python-telegram-bot's HTTP transport on aiohttp instead of httpx.

PTB lets an application replace how it talks HTTP (`telegram.request.BaseRequest`,
given to the `ApplicationBuilder`); everything above it (parameters, errors
such as 429 `RetryAfter` or 403 `Forbidden`, parsing the answer) stays PTB's.
Measured on this project's fake Bot API with 50 chats at once, httpx (through
httpcore's connection pool) spent about 2.9 ms of CPU per call and aiohttp's
client about 0.35 ms, which made HTTP the largest cost of a Telegram step.
aiohttp is already a dependency (the webhook server).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_Default = type(BaseRequest.DEFAULT_NONE)
"""PTB's "not given" marker type: a timeout left to this request's default."""


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to `pool_size` connections. Timeouts in
    seconds, as PTB's own `HTTPXRequest` takes them (`pool` is how long a call
    may wait for a free connection)."""

    __slots__ = ("_connect", "_pool", "_pool_size", "_read", "_session", "_write")

    def __init__(
        self,
        *,
        pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                auto_decompress=True,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("this AiohttpRequest is not initialized")
        read = self._read if isinstance(read_timeout, _Default) else read_timeout
        connect = self._connect if isinstance(connect_timeout, _Default) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, _Default) else pool_timeout
        write = self._write if isinstance(write_timeout, _Default) else write_timeout
        waiting = None if connect is None or pool is None else connect + pool
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=waiting,
            sock_connect=connect,
            # aiohttp has no write timeout of its own: a read that begins
            # after the body is written gets both allowances.
            sock_read=None if read is None else read + (write or 0.0),
        )
        body: Any = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, part in files.items():
                    filename, content, *rest = part
                    form.add_field(
                        name,
                        content,
                        filename=filename,
                        content_type=rest[0] if rest else None,
                    )
                body = form
            else:
                body = request_data.json_parameters
        try:
            async with self._session.request(method, url, data=body, timeout=timeout) as res:
                return res.status, await res.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}") from exc
