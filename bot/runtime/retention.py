"""The nightly retention job inside `heard run`.

An APScheduler 3 cron job at `[retention] run_at` in `[schedule] timezone`
runs `RetentionJob.apply` (`bot.service.retention`) on a database thread: rows
past their `[retention]` limit are deleted in batches, and only counts are
logged. A night the process was down is not made up at start (the job
store is in memory); the next night deletes everything past its limit, and
`heard retention` does the same by hand. The deletes are idempotent, so a
job that runs in two processes at once deletes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.core.errors import StorageError
from bot.runtime.process import Extra, Runtime

log = logging.getLogger("heard.retention")


def scheduler_for(runtime: Runtime) -> AsyncIOScheduler:
    app = runtime.app
    config = app.config
    zone = ZoneInfo(config.schedule.timezone)
    job = app.retention

    async def nightly() -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(runtime.executor, job.apply)
        except StorageError as exc:
            log.warning("retention: database unavailable (%s)", type(exc.__cause__ or exc).__name__)

    scheduler = AsyncIOScheduler(timezone=zone)
    at = config.retention.run_at
    scheduler.add_job(
        nightly,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=zone),
        id="retention-nightly",
        name="retention",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler


def extra() -> Extra:
    """The nightly job as a `serve(extras=…)` coroutine."""

    async def retention(runtime: Runtime) -> None:
        scheduler = scheduler_for(runtime)
        scheduler.start()
        log.info("retention: nightly at %s", runtime.app.config.retention.run_at.strftime("%H:%M"))
        try:
            await asyncio.Event().wait()
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)

    return retention
