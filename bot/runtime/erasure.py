"""The scrub after an erasure, inside `heard run`.

An APScheduler 3 interval job runs `Scrubber.run` (`bot.service.erasure`) on
a database thread every `SCRUB_EVERY` seconds, and once at start: it finds
the scrub requests that erasures (a family's "forget", `heard forget`, the
retention job, a closed case) left, waits until the last reply to an erased
family has gone, then checkpoints SQLite's WAL or VACUUMs the PostgreSQL
tables named (FULL for the small ones), outside any transaction. With several
processes on one PostgreSQL each may vacuum the same tables; that is
harmless. A database that is down or busy leaves the requests for the next
run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.errors import StorageError
from bot.runtime.process import Extra, Runtime
from bot.service.erasure import SCRUB_EVERY

log = logging.getLogger("heard.erasure")


def scheduler_for(runtime: Runtime, every: float = SCRUB_EVERY) -> AsyncIOScheduler:
    scrubber = runtime.app.scrubber

    async def scrub() -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(runtime.executor, scrubber.run)
        except StorageError as exc:
            log.warning("erasure: database unavailable (%s)", type(exc.__cause__ or exc).__name__)

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        scrub,
        IntervalTrigger(seconds=every),
        id="erasure-scrub",
        name="erasure scrub",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        next_run_time=runtime.app.time.now(),
    )
    return scheduler


def extra(every: float = SCRUB_EVERY) -> Extra:
    """The scrub duty as a `serve(extras=…)` coroutine."""

    async def erasure(runtime: Runtime) -> None:
        scheduler = scheduler_for(runtime, every)
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)

    return erasure
