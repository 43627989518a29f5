"""Follow-ups inside `heard run`: the sweep on an APScheduler job, and the
outbox sender.

Every `[schedule] sweep_every`, an APScheduler 3 `AsyncIOScheduler` job runs
`FollowUps.sweep` (`bot.service.followups`) on a database worker thread, then
wakes the `Sender` (`bot.runtime.outbox`), which drains the outbox at each
platform's pace. Each sweep tops the outbox up to a few seconds of sending,
no more.

Quiet hours (`[schedule] quiet_hours`, in `[schedule] timezone`, daylight
saving included): while they last the sweep claims no follow-ups and the
sender holds back messages of family kinds (`QUIET_KINDS`), so what falls due
at night goes out when they end. Alerts to staff are never held back.

Downtime: the sweep job runs once at start and then every `sweep_every`, with
`coalesce=True` (missed runs collapse into one) and `misfire_grace_time=None`
(a late run is never skipped). Due times live in the rows, so after any
downtime every follow-up that fell due is sent once, late rather than never.

Several processes: any number of `heard run` processes may share one
PostgreSQL database (each claims different rows; a dead process's claims are
taken over when its lease, `[schedule] lease`, expires). Run them in webhook
mode behind a load balancer, and divide `[telegram] max_per_second` between
them, since Telegram's overall limit is per bot. SQLite is for one process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import socket
from collections.abc import Collection, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Config
from bot.core.errors import StorageError
from bot.core.quiet_hours import QUIET_KINDS
from bot.runtime.app import App
from bot.runtime.outbox import Sender
from bot.runtime.process import Extra, Runtime
from bot.service.followups import FollowUps, SweepResult
from bot.service.outbox import OnSent
from bot.service.ports import Channel

log = logging.getLogger("heard.followups")

OUTBOX_KEEP = timedelta(days=7)
"""Finished outbox rows (which hold raw addresses) are deleted after this."""
PRUNE_EVERY = 3600.0


def process_owner() -> str:
    """A name for this process in `claimed_by`: host, pid and a random part
    (so a restarted process with a reused pid is still someone new)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def in_flight_for(config: Config) -> int:
    """Messages a process may hold claimed at once: about two seconds of
    sending at the configured Telegram rate (50 to 1000), so a claim is sent
    long before its lease ends, and a crash resends little."""
    rate = config.telegram.max_per_second if config.telegram.enabled else 0.0
    if rate <= 0:
        return 100
    return int(min(1000, max(50, rate * 2)))


class FollowUpRunner:
    """The sweep on an APScheduler interval job, and the outbox sender."""

    def __init__(
        self,
        app: App,
        channels: Mapping[str, Channel],
        *,
        executor: Executor | None = None,
        on_sent: OnSent | None = None,
        owner: str | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        schedule = app.config.schedule
        self.schedule = schedule
        self.executor = executor
        self.owner = owner or process_owner()
        self.time = app.time
        self.followups = FollowUps(
            app.conversation, schedule, owner=self.owner, monotonic=app.time.monotonic
        )
        self.quiet = self.followups.quiet
        self.clock = app.time.now
        self.sender = Sender(
            app.store,
            channels,
            owner=self.owner,
            time=app.time,
            lease=schedule.lease,
            executor=executor,
            held_kinds=self.held_kinds,
            on_sent=on_sent,
            max_in_flight=max_in_flight or in_flight_for(app.config),
            idle_poll=schedule.sweep_every.total_seconds(),
            metrics=app.metrics,
        )
        self._last_prune = -PRUNE_EVERY
        self.backlog = 4 * self.sender.max_in_flight
        """Messages ready to send beyond which a sweep waits for the next tick."""

    def held_kinds(self, now: datetime) -> Collection[str]:
        return QUIET_KINDS if self.quiet.contains(now) else ()

    async def tick(self) -> None:
        """One sweep (on a database thread), then wake the sender.

        The sweep tops the outbox up to `backlog` messages ready to send and
        no further: a few seconds of sending. Queuing thousands at once would
        gain nothing, and the sweep's work would compete with sending for the
        process's time just when the most is waiting."""
        loop = asyncio.get_running_loop()
        budget = self.schedule.sweep_every.total_seconds() / 2
        platforms = tuple(self.sender.channels)

        def sweep() -> SweepResult:
            ready = self.sender.book.ready_count(
                platforms=platforms, held_kinds=self.held_kinds(self.clock()), cap=self.backlog
            )
            if ready >= self.backlog:
                return SweepResult()
            return self.followups.sweep(budget=budget, max_messages=self.backlog - ready)

        try:
            result = await loop.run_in_executor(self.executor, sweep)
            if self.time.monotonic() - self._last_prune > PRUNE_EVERY:
                await loop.run_in_executor(self.executor, self._prune)
                self._last_prune = self.time.monotonic()
        except StorageError as exc:
            log.warning(
                "follow-up sweep: database unavailable (%s)", type(exc.__cause__ or exc).__name__
            )
            return
        except asyncio.CancelledError:
            # Shutting down: the sweep on its thread still commits or rolls
            # back as a whole; nothing here needs it.
            return
        if result.done or result.cancelled or result.failed:
            log.info(
                "follow-ups: %d sent to the outbox (%d messages), %d cancelled, %d failed",
                result.done,
                result.messages,
                result.cancelled,
                result.failed,
            )
        self.sender.wake()

    def _prune(self) -> None:
        pruned = self.sender.book.prune(OUTBOX_KEEP)
        if pruned:
            log.info("outbox: deleted %d finished message(s)", pruned)

    def scheduler(self) -> AsyncIOScheduler:
        """The APScheduler that drives the sweep. Misfires are explicit: a
        late run is never skipped (`misfire_grace_time=None`), missed runs are
        coalesced into one, and never two sweeps at once in one process."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=max(0.1, self.schedule.sweep_every.total_seconds())),
            id="followups-sweep",
            name="follow-up sweep",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=self.clock(),
        )
        return scheduler

    async def run(self) -> None:
        """Run until cancelled; on cancellation the sender finishes what is
        under way and gives back the rest."""
        executors = logging.getLogger("apscheduler.executors.default")
        if executors.level == logging.NOTSET:
            executors.setLevel(logging.WARNING)
        # Everything alive now (modules, the app, the channels) lives as long
        # as the process: keep it out of the collector's full passes, which
        # would otherwise pause sending long enough to bunch messages up.
        gc.freeze()
        scheduler = self.scheduler()
        scheduler.start()
        log.info(
            "follow-ups: sweeping every %ss, quiet hours %s",
            self.schedule.sweep_every.total_seconds(),
            self.quiet.describe(),
        )

        def stop_sweeping() -> None:
            if scheduler.running:
                scheduler.shutdown(wait=False)

        try:
            await self.sender.run(on_stop=stop_sweeping)
        finally:
            stop_sweeping()


def extra(*, on_sent: OnSent | None = None, **options: Any) -> Extra:
    """The follow-up machinery as a `serve(extras=…)` coroutine."""

    async def follow_ups(runtime: Runtime) -> None:
        runner = FollowUpRunner(
            runtime.app,
            runtime.channels,
            executor=runtime.executor,
            on_sent=on_sent,
            **options,
        )
        await runner.run()

    return follow_ups
