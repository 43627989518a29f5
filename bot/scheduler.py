"""Follow-ups inside `heard run`: check-ins, one reminder, quiet hours, cases.

How time moves a conversation on:

- The engine asks for follow-ups as effects (`ScheduleFollowUp("checkin", …)`
  after a finished survey, `("reminder", …)` when a survey starts). The service
  stores them as rows in `followups` with a due time, a kind and an
  idempotency key (`checkin:<round>`, `reminder:<round>`): rows, not
  APScheduler jobs, so thousands cost nothing and survive restarts, and a key
  that was sent once is never sent again (one reminder per survey at most).
- Every `[schedule] sweep_every`, an APScheduler 3 `AsyncIOScheduler` job runs
  `FollowUps.sweep` on a database worker thread. In one transaction per batch
  of up to 200 it claims due rows (`FOR UPDATE SKIP LOCKED` and a lease on
  PostgreSQL; a family whose own message is being handled that instant is
  left for the next sweep), runs `Service.follow_up` for each (which says
  nothing to a family that stopped, declined, blocked the bot or was
  forgotten), queues the replies in the outbox and marks the follow-up done.
  A follow-up and its messages are committed together or not at all. Each
  sweep tops the outbox up to a few seconds of sending, no more.
- `bot.outbox.Sender` drains the outbox at each platform's pace.

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

Cases: an invite is a family's case. `close_cases` (and `heard case close`)
closes one by invite code or id, or all open cases of a worker: it sets
`invites.closed_at`, cancels the follow-ups of the families bound to it,
deletes their queued messages and their contact rows. A closed invite can no
longer be redeemed; a family who is given a new invite starts a new case.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import socket
import time
from collections.abc import Collection, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import admin
from bot.config import Config, ScheduleConfig
from bot.delivery import Channel
from bot.errors import HeardError, NotFoundError
from bot.invites import normalise_code
from bot.messages import Outbound
from bot.outbox import OnSent, Sender
from bot.service import Service
from storage import repo
from storage.models import Invite

if TYPE_CHECKING:
    from bot.app import App
    from bot.runner import Extra, Runtime

log = logging.getLogger("heard.followups")

QUIET_KINDS = frozenset({"checkin", "reminder"})
"""Messages to families that wait for the end of quiet hours."""
BATCH = 200
"""Follow-ups per sweep transaction."""
OUTBOX_KEEP = timedelta(days=7)
"""Finished outbox rows (which hold raw addresses) are deleted after this."""
PRUNE_EVERY = 3600.0
_TICK = timedelta(microseconds=1)


def process_owner() -> str:
    """A name for this process in `claimed_by`: host, pid and a random part
    (so a restarted process with a reused pid is still someone new)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


# -- quiet hours ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in local time, possibly over midnight; empty when
    `start == end`. Times are compared in the organisation's zone, so the
    window follows the clocks across daylight-saving changes."""

    start: clock_time
    end: clock_time
    zone: ZoneInfo

    @classmethod
    def from_config(cls, schedule: ScheduleConfig) -> QuietHours:
        return cls(schedule.quiet_start, schedule.quiet_end, ZoneInfo(schedule.timezone))

    @property
    def off(self) -> bool:
        return self.start == self.end

    def contains(self, at: datetime) -> bool:
        if self.off:
            return False
        local = at.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, at: datetime) -> datetime:
        """The first moment at or after `at` outside quiet hours (UTC)."""
        if not self.contains(at):
            return at
        local = at.astimezone(self.zone)
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        end = datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
        if end > at and not self.contains(end) and self.contains(end - _TICK):
            return end
        # The end falls in a clock change (a local time that is skipped or
        # repeated): find the first moment outside quiet hours by bisection.
        quiet, free = at, end
        while self.contains(free):
            free += timedelta(hours=1)
        while free - quiet > _TICK:
            mid = quiet + (free - quiet) / 2
            if self.contains(mid):
                quiet = mid
            else:
                free = mid
        return free

    def describe(self) -> str:
        if self.off:
            return "off"
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone.key}"


# -- the sweep ----------------------------------------------------------------------------


@dataclass
class SweepResult:
    done: int = 0
    """Follow-ups that became messages in the outbox."""
    messages: int = 0
    cancelled: int = 0
    """Nothing to say (stopped, unreachable, case closed, …)."""
    failed: int = 0
    """Raised an error; tried again when the lease expires."""
    quiet: bool = False


class FollowUps:
    """Turns due follow-ups into outbox messages (see the module docstring).
    Synchronous: run it on a database worker thread."""

    def __init__(
        self,
        service: Service,
        schedule: ScheduleConfig,
        *,
        owner: str,
        batch: int = BATCH,
        max_batches: int = 50,
    ) -> None:
        self.service = service
        self.quiet = QuietHours.from_config(schedule)
        self.lease = schedule.lease
        self.owner = owner
        self.batch = batch
        self.max_batches = max_batches

    def sweep(self, *, budget: float | None = None, max_messages: int | None = None) -> SweepResult:
        """Process due follow-ups, batch by batch, until none are left, or
        `max_batches`, `budget` seconds or `max_messages` queued are used up
        (the next sweep goes on)."""
        result = SweepResult()
        started = time.monotonic()
        for _ in range(self.max_batches):
            now = self.service.clock()
            if self.quiet.contains(now):
                result.quiet = True
                break
            if self._batch(now, result) < self.batch:
                break
            if budget is not None and time.monotonic() - started > budget:
                break
            if max_messages is not None and result.messages >= max_messages:
                break
        return result

    def _batch(self, now: datetime, result: SweepResult, *, careful: bool = False) -> int:
        """One transaction; returns how many follow-ups it claimed.

        Follow-ups run without savepoints (they cost a third of the time);
        should one raise, the whole batch is rolled back and run again
        `careful`ly, each follow-up in its own savepoint, so the one that
        raised is left claimed (tried again when its lease expires) and the
        others go on."""
        done: list[int] = []
        cancelled: list[int] = []
        messages: list[dict[str, Any]] = []
        failed = 0
        try:
            with self.service.sessions.begin() as session:
                due = repo.claim_followups(
                    session,
                    owner=self.owner,
                    now=now,
                    lease_until=now + self.lease,
                    limit=self.batch,
                )
                if not due:
                    return 0
                closed = repo.respondents_with_closed_case(session, {d.respondent_id for d in due})
                for item in due:
                    if item.respondent_id in closed:
                        cancelled.append(item.id)
                        continue
                    outs = self._run(session, item, careful=careful)
                    if outs is None:
                        failed += 1
                    elif outs:
                        done.append(item.id)
                        messages += [
                            repo.outbound_row(
                                platform=out.platform,
                                address=out.chat_id,
                                text=out.text,
                                choices=out.choices,
                                columns=out.columns,
                                kind=item.kind,
                                ref=f"followup:{item.id}",
                                respondent_id=item.respondent_id,
                                now=now,
                            )
                            for out in outs
                        ]
                    else:
                        cancelled.append(item.id)
                repo.enqueue_outbound_rows(session, messages)
                repo.finish_followups(session, done, "done")
                repo.finish_followups(session, cancelled, "cancelled")
        except _RunCarefully:
            return self._batch(now, result, careful=True)
        result.done += len(done)
        result.messages += len(messages)
        result.cancelled += len(cancelled)
        result.failed += failed
        return len(due)

    def _run(
        self, session: Session, item: repo.DueFollowUp, *, careful: bool
    ) -> list[Outbound] | None:
        """The follow-up's replies; None if it raised in a careful run (its
        changes are rolled back to its savepoint)."""
        if not careful:
            try:
                return self.service.follow_up(session, item.respondent_id, item.kind)
            except SQLAlchemyError:
                raise
            except Exception:
                raise _RunCarefully() from None
        try:
            with session.begin_nested():
                return self.service.follow_up(session, item.respondent_id, item.kind)
        except SQLAlchemyError:
            raise
        except Exception as exc:
            log.error(
                "follow-up %d (%s) failed with %s; it is tried again when its lease expires",
                item.id,
                item.kind,
                type(exc).__name__,
            )
            return None


class _RunCarefully(Exception):
    """A follow-up raised in a batch run without savepoints."""


# -- cases -------------------------------------------------------------------------------


def close_cases(
    session: Session,
    *,
    now: datetime,
    code: str | None = None,
    invite_id: int | None = None,
    worker: str | None = None,
    actor: str = "admin",
) -> repo.CaseClosure:
    """Close one case (by invite code or id) or every open case of a worker
    (id, name or Slack user id). See the module docstring for what closing
    does. Closing a closed case again is harmless."""
    given = [v for v in (code, invite_id, worker) if v is not None]
    if len(given) != 1:
        raise HeardError("say which case to close: --code CODE, --invite-id N or --worker WORKER")
    if code is not None:
        wanted = normalise_code(code) or code.strip().upper()
        if repo.invite_by_code(session, wanted) is None:
            raise NotFoundError(f"no invite with the code {wanted}")
        ids = repo.open_case_ids(session, code=wanted)
    elif invite_id is not None:
        if session.get(Invite, invite_id) is None:
            raise NotFoundError(f"no invite with the id {invite_id}")
        ids = repo.open_case_ids(session, invite_id=invite_id)
    else:
        assert worker is not None
        ids = repo.open_case_ids(session, worker_id=admin.find_worker(session, worker).id)
    closure = repo.close_cases(session, ids, now)
    repo.audit(
        session,
        actor,
        "cases closed",
        {"invite_ids": ids, "followups_cancelled": closure.followups_cancelled},
        now,
    )
    return closure


# -- for administrators -------------------------------------------------------------------


def _table(title: str, statuses: tuple[str, ...], counts: list[tuple[str, str, int]]) -> list[str]:
    kinds = sorted({k for k, _, _ in counts})
    cell = {(k, s): n for k, s, n in counts}
    extra = sorted({s for _, s, _ in counts} - set(statuses))
    columns = (*statuses, *extra)
    width = max([14, len(title), *(len(k) + 2 for k in kinds)])
    lines = [title.ljust(width) + "".join(f"{c:>11}" for c in columns)]
    for kind in kinds:
        lines.append(
            f"  {kind}".ljust(width) + "".join(f"{cell.get((kind, c), 0):>11}" for c in columns)
        )
    if not kinds:
        lines.append("  (none)")
    return lines


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    if at is None:
        return "-"
    local = at.astimezone(zone)
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({local:%H:%M} {zone.key})"


def report(session: Session, schedule: ScheduleConfig, now: datetime) -> str:
    """Counts by kind and status, next due times and quiet-hours state, for
    `heard followups`. Holds no personal data: no addresses, texts or ids of
    families."""
    quiet = QuietHours.from_config(schedule)
    lines = _table(
        "Follow-ups", ("pending", "claimed", "done", "cancelled"), repo.followup_counts(session)
    )
    lines.append(f"  next due: {_when(repo.next_followup_due(session), quiet.zone)}")
    lines.append("")
    lines += _table(
        "Outbox",
        ("pending", "claimed", "sent", "failed", "cancelled"),
        repo.outbox_counts(session),
    )
    lines.append(f"  next attempt: {_when(repo.next_outbound_due(session), quiet.zone)}")
    lines.append("")
    state = "not quiet now"
    if quiet.contains(now):
        state = f"quiet now, until {_when(quiet.ends_after(now), quiet.zone)}"
    lines.append(f"Quiet hours: {quiet.describe()}; {state}")
    return "\n".join(lines)


# -- inside `heard run` -------------------------------------------------------------------


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
        self.followups = FollowUps(app.service, schedule, owner=self.owner)
        self.quiet = self.followups.quiet
        self.sessions = app.sessions
        self.clock = app.service.clock
        self.sender = Sender(
            app.sessions,
            channels,
            owner=self.owner,
            clock=app.service.clock,
            lease=schedule.lease,
            executor=executor,
            held_kinds=self.held_kinds,
            on_sent=on_sent,
            max_in_flight=max_in_flight or in_flight_for(app.config),
            idle_poll=schedule.sweep_every.total_seconds(),
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
            with self.sessions() as session:
                ready = repo.count_sendable(
                    session,
                    now=self.clock(),
                    platforms=platforms,
                    held_kinds=tuple(self.held_kinds(self.clock())),
                    cap=self.backlog,
                )
            if ready >= self.backlog:
                return SweepResult()
            return self.followups.sweep(budget=budget, max_messages=self.backlog - ready)

        try:
            result = await loop.run_in_executor(self.executor, sweep)
            if time.monotonic() - self._last_prune > PRUNE_EVERY:
                await loop.run_in_executor(self.executor, self._prune)
                self._last_prune = time.monotonic()
        except SQLAlchemyError as exc:
            log.warning("follow-up sweep: database unavailable (%s)", type(exc).__name__)
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
        with self.sessions.begin() as session:
            pruned = repo.prune_outbox(session, self.clock() - OUTBOX_KEEP)
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
            next_run_time=datetime.now(UTC),
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
