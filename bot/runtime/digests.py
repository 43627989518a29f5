"""Digests inside `heard run`, and `heard digest send`.

An APScheduler cron job fires at `[digests] send_at` on working days, in
`[schedule] timezone`; an interval job every minute (and once at start)
catches up after downtime, retries failed sends, takes over the claims of a
process that died, takes in new comments and shows them to managers. Both
run `DigestRunner.tick`, so the cron only makes digests go out on the
minute. Planning and claiming are exactly-once in the database (see
`bot.service.digests`), so any number of processes may run this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.errors import DeliveryError, StorageError
from bot.runtime.app import App
from bot.runtime.outbox import process_owner
from bot.runtime.process import Extra, Runtime
from bot.runtime.registry import digest_senders
from bot.service.digests import Digests, Outgoing
from bot.service.ports import DigestSender, ReviewRequest

log = logging.getLogger("heard.digests")

CATCH_UP_SECONDS = 60.0


@runtime_checkable
class Reviewer(Protocol):
    async def send_review(self, manager: str, request: ReviewRequest) -> str: ...


@dataclass(frozen=True, slots=True)
class Result:
    who: str
    status: str
    """sent, skipped (nowhere to send it), pending (will retry) or failed."""
    why: str = ""


class DigestRunner:
    def __init__(
        self,
        app: App,
        senders: Mapping[str, Any],
        *,
        owner: str | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.app = app
        self.digests: Digests = app.staff.digests
        self.senders = {
            name: sender for name, sender in senders.items() if isinstance(sender, DigestSender)
        }
        self.owner = owner or process_owner()
        self.executor = executor
        self.lease = app.config.schedule.lease

    async def _db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def tick(self) -> list[Result]:
        """Take in comments, offer them for review, plan what fell due and
        send it. A database outage skips this tick; the next one catches up."""
        try:
            await self._db(self.digests.collect)
            await self.offer_reviews()
            await self._db(self.digests.plan)
            return await self.deliver_due()
        except StorageError as exc:
            log.warning("digests: database unavailable (%s)", type(exc.__cause__ or exc).__name__)
            return []

    async def offer_reviews(self) -> int:
        reviewer = self.senders.get("slack")
        if not isinstance(reviewer, Reviewer):
            return 0
        requests: list[ReviewRequest] = await self._db(self.digests.to_review)
        offered = []
        for request in requests:
            if not request.managers:
                continue
            try:
                for manager in request.managers:
                    await reviewer.send_review(manager, request)
            except DeliveryError as exc:
                log.warning("could not show a comment to a manager: %s", exc)
                continue
            offered.append(request.comment_id)
        if offered:
            await self._db(self.digests.offered, offered)
            log.info("digests: %d comment(s) shown to managers for review", len(offered))
        return len(offered)

    async def deliver_due(self, keys: Collection[str] | None = None) -> list[Result]:
        """Claim and send due digests (with `keys`, only those) until none is left."""
        results: list[Result] = []
        while True:
            batch: list[Outgoing] = await self._db(
                self.digests.claim, self.owner, self.lease, 20, keys
            )
            if not batch:
                return results
            for out in batch:
                results.append(await self._deliver(out))

    async def _deliver(self, out: Outgoing) -> Result:
        sender = self.senders.get(out.platform or "")
        if out.platform is None:
            await self._db(self._finish, out, False, None)
            return Result(out.who, "skipped", "no Slack user or Telegram chat")
        if sender is None:
            status = await self._db(self._finish, out, False, "platform_off")
            return Result(out.who, status, f"[{out.platform}] is not enabled")
        try:
            await sender.send_digest(out.address, out.message)
        except DeliveryError as exc:
            status = await self._db(self._finish, out, False, type(exc).__name__)
            log.warning("a digest could not be sent: %s", exc)
            return Result(out.who, status, type(exc).__name__)
        await self._db(self._finish, out, True, None)
        return Result(out.who, "sent")

    def _finish(self, out: Outgoing, sent: bool, error: str | None) -> str:
        return self.digests.finish(out, self.owner, sent=sent, error=error)

    def scheduler(self) -> AsyncIOScheduler:
        cfg = self.app.config
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            CronTrigger(
                day_of_week="mon-fri",
                hour=cfg.digests.send_at.hour,
                minute=cfg.digests.send_at.minute,
                timezone=ZoneInfo(cfg.schedule.timezone),
            ),
            id="digests-cron",
            name="digests on the first working day",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=CATCH_UP_SECONDS),
            id="digests-catch-up",
            name="digests: catch up, retry, comments",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=self.app.time.now(),
        )
        return scheduler

    async def run(self) -> None:
        scheduler = self.scheduler()
        scheduler.start()
        log.info(
            "digests: %s at %s, comments %s",
            self.app.config.digests.every,
            self.app.config.digests.send_at.strftime("%H:%M"),
            self.app.config.digests.comments,
        )
        try:
            await asyncio.Event().wait()
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)


def extra() -> Extra:
    """The digest jobs as a `serve(extras=…)` coroutine."""

    async def digests(runtime: Runtime) -> None:
        runner = DigestRunner(
            runtime.app, runtime.channels, owner=runtime.sender.owner, executor=runtime.executor
        )
        await runner.run()

    return digests


async def send_now(app: App, worker: str | None, period: str | None) -> list[str]:
    """`heard digest send`: plan (same keys as the schedule) and send at once
    through the platforms enabled in the config; one line per digest."""
    planned = app.staff.digests.plan_now(worker, period)
    senders = digest_senders(app.config, app.staff)
    opened = []
    try:
        for sender in senders.values():
            await sender.open_for_sending()
            opened.append(sender)
        runner = DigestRunner(app, senders)
        results = await runner.deliver_due(planned.keys)
    finally:
        for sender in opened:
            await sender.close_for_sending()
    lines = [f"{r.who}: {r.status}" + (f" ({r.why})" if r.why else "") for r in results]
    if planned.already:
        lines.append(f"{planned.already} digest(s) for this period were already planned or sent")
    return lines
