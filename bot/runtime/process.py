"""The running process: its channels, its database threads, and the type of
the background duties (`Extra`) that `heard run` starts beside them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from bot.core.errors import StorageError
from bot.core.messages import Inbound, Outbound
from bot.core.quiet_hours import QUIET_KINDS
from bot.runtime.app import App
from bot.runtime.outbox import Sender, in_flight_for, process_owner
from bot.service.conversation import ReplyQueue
from bot.service.outbox import OnSent
from bot.service.ports import ActionChannel, Channel

log = logging.getLogger("heard.run")

Extra = Callable[["Runtime"], Coroutine[Any, Any, None]]


class Runtime:
    """The running process: channels by platform, the service, the executor,
    and the outbox sender that carries every reply and follow-up.

    The reply path: `on_inbound` runs the conversation step on a database
    thread, which stores the replies in the outbox (claimed by this process)
    in the step's own transaction; the sender then sends them at once
    (`Sender.send_now`). So a channel gets nothing back to send itself, and a
    reply that cannot go now stays in the outbox until it can."""

    def __init__(
        self,
        app: App,
        channels: list[Channel],
        *,
        owner: str | None = None,
        on_sent: OnSent | None = None,
    ) -> None:
        self.app = app
        self.channels = {c.platform: c for c in channels}
        workers = 1 if app.store.dialect == "sqlite" else 8
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="heard-db")
        schedule = app.config.schedule
        self._quiet = schedule.quiet_hours()
        self.sender = Sender(
            app.store,
            self.channels,
            owner=owner or process_owner(),
            time=app.time,
            lease=schedule.lease,
            executor=self.executor,
            held_kinds=self._held_kinds,
            on_sent=on_sent or app.alert_desk.on_sent,
            on_undeliverable=app.alert_desk.alerts.undeliverable,
            max_in_flight=in_flight_for(app.config),
            idle_poll=schedule.sweep_every.total_seconds(),
        )
        self.queue = ReplyQueue(self.sender.owner, schedule.lease)
        self._sending: asyncio.Task[None] | None = None

    def _held_kinds(self, now: datetime) -> tuple[str, ...]:
        return tuple(QUIET_KINDS) if self._quiet.contains(now) else ()

    async def on_inbound(self, inbound: Inbound) -> list[Outbound]:
        """Store one inbound message and start sending its replies; returns
        nothing for the channel to send (the sender has them)."""
        loop = asyncio.get_running_loop()
        metrics = self.app.metrics
        try:
            replies = await loop.run_in_executor(self.executor, self._handle, inbound)
        except StorageError:
            metrics.handled(inbound.platform, "storage_error")
            raise
        except Exception:
            metrics.handled(inbound.platform, "error")
            raise
        metrics.handled(inbound.platform, "handled", len(replies))
        self.sender.send_now(replies)
        return []

    def _handle(self, inbound: Inbound) -> list[Outbound]:
        return self.app.conversation.handle(inbound, queue=self.queue)

    async def on_unreachable(self, platform: str, chat_id: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.executor, self.app.conversation.mark_unreachable, platform, chat_id
        )

    def action_channels(self) -> list[ActionChannel]:
        """The channels on which staff press buttons."""
        return [c for c in self.channels.values() if isinstance(c, ActionChannel)]

    async def start(self) -> None:
        if self.app.store.dialect == "sqlite":
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.executor, self.sender.book.take_over_all)
            except StorageError as exc:
                log.warning("outbox: could not take over old claims (%s)", type(exc).__name__)
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
        self._sending = asyncio.create_task(self.sender.run(), name="outbox-sender")

    async def stop(self) -> None:
        """Let the sender finish what is under way while the channels' clients
        still work, then stop the channels, then give back any reply that a
        last inbound message queued meanwhile (it goes out after a restart)."""
        if self._sending is not None:
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sending
        for channel in self.channels.values():
            try:
                await channel.stop()
            except Exception:
                log.exception("error while stopping %s", channel.platform)
        with contextlib.suppress(Exception):
            await self.sender.stop()
        self.executor.shutdown(wait=True)
