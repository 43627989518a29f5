"""The running process: its channels, its database threads, and the type of
the background duties (`Extra`) that `heard run` starts beside them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.core.errors import StorageError
from bot.core.messages import Inbound, Outbound
from bot.runtime.app import App
from bot.service.ports import ActionChannel, Channel

log = logging.getLogger("heard.run")

Extra = Callable[["Runtime"], Coroutine[Any, Any, None]]


class Runtime:
    """The running process: channels by platform, the service, the executor."""

    def __init__(self, app: App, channels: list[Channel]) -> None:
        self.app = app
        self.channels = {c.platform: c for c in channels}
        workers = 1 if app.store.dialect == "sqlite" else 8
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="heard-db")

    async def on_inbound(self, inbound: Inbound) -> list[Outbound]:
        loop = asyncio.get_running_loop()
        metrics = self.app.metrics
        try:
            replies = await loop.run_in_executor(
                self.executor, self.app.conversation.handle, inbound
            )
        except StorageError:
            metrics.handled(inbound.platform, "storage_error")
            raise
        except Exception:
            metrics.handled(inbound.platform, "error")
            raise
        metrics.handled(inbound.platform, "handled", len(replies))
        return replies

    async def on_unreachable(self, platform: str, chat_id: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.executor, self.app.conversation.mark_unreachable, platform, chat_id
        )

    def action_channels(self) -> list[ActionChannel]:
        """The channels on which staff press buttons."""
        return [c for c in self.channels.values() if isinstance(c, ActionChannel)]

    async def start(self) -> None:
        started: list[Channel] = []
        try:
            for channel in self.channels.values():
                await channel.start(self.on_inbound, self.on_unreachable)
                started.append(channel)
        except BaseException:
            for channel in started:
                with contextlib.suppress(Exception):
                    await channel.stop()
            raise

    async def stop(self) -> None:
        for channel in self.channels.values():
            try:
                await channel.stop()
            except Exception:
                log.exception("error while stopping %s", channel.platform)
        self.executor.shutdown(wait=True)
