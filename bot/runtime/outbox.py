"""The outbox sender: drains queued messages at each platform's pace.

Everything Heard says on its own initiative (check-ins, reminders, and later
safeguarding alerts) is first a row in the `outbox` table, written in the same
transaction as whatever caused it. The `Sender` claims rows with a lease
(`repo.claim_outbound`: FOR UPDATE SKIP LOCKED on PostgreSQL), sends them
through the platform `Channel`, and records the platform's message id. So:

- nothing is lost: a row stays in the table until it is marked sent, failed
  or cancelled; a process that dies holding claims loses them when the lease
  expires, and another process (or the same one, restarted) sends them;
- a crash between a send and its commit can resend at most the messages that
  were in flight (`max_in_flight`), never more;
- pace: sends to different chats run concurrently, up to `max_in_flight`; the
  channel's `Pacer` keeps them under the platform's overall and per-chat
  limits, and the channel itself honours 429 and retries transient errors a
  few times. What still fails comes back here as a `DeliveryError`: a
  `RetryAfter` or `TransientError` puts the row back with exponential backoff
  (after `max_attempts` claims it is marked failed); `Unreachable` marks it
  failed at once (the channel has already marked the family unreachable,
  which cancels whatever else was queued for them);
- order: a row is claimed only when no earlier row to the same address is
  waiting or in flight, so one chat's messages arrive in the order queued.

Logs name outbox ids, kinds and error classes, never an address or a text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import TypeVar

from bot.core.errors import DeliveryError, RetryAfter, StorageError, TransientError, Unreachable
from bot.core.messages import Choice, Outbound
from bot.runtime.clock import SYSTEM, Time
from bot.runtime.metrics import Metrics
from bot.service.outbox import (
    Abandoned,
    Failed,
    OnSent,
    OutboxBook,
    Result,
    Retry,
    Row,
    Sent,
)
from bot.service.ports import Channel
from storage.unit import Store

log = logging.getLogger("heard.outbox")

T = TypeVar("T")

HeldKinds = Callable[[datetime], Collection[str]]
"""Which kinds must wait at this moment (family kinds in quiet hours)."""

STOP_GRACE = 5.0
"""Seconds a clean stop waits for sends already under way."""
CYCLE_EVERY = 0.05
"""At most this often, one transaction records finished sends and claims more."""


def _nothing_held(_: datetime) -> Collection[str]:
    return ()


class Sender:
    """Drains the outbox through the given channels. One per process."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        owner: str,
        lease: timedelta,
        time: Time = SYSTEM,
        executor: Executor | None = None,
        held_kinds: HeldKinds = _nothing_held,
        on_sent: OnSent | None = None,
        max_in_flight: int = 100,
        max_attempts: int = 8,
        retry_base: float = 5.0,
        retry_cap: float = 900.0,
        idle_poll: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.channels = channels
        self.owner = owner
        self.time = time
        self.clock = time.now
        self.lease = lease
        self.book = OutboxBook(
            store,
            owner=owner,
            clock=time.now,
            lease=lease,
            max_attempts=max_attempts,
            on_sent=on_sent,
        )
        self.executor = executor
        self.held_kinds = held_kinds
        self.on_sent = on_sent
        self.max_in_flight = max(1, max_in_flight)
        self.max_attempts = max(1, max_attempts)
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.idle_poll = idle_poll
        self.metrics = metrics
        self.sent_count = 0
        self._inflight: dict[asyncio.Task[None], Row] = {}
        self._results: list[tuple[Row, Result]] = []
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._stopping = False
        self._db_call: asyncio.Future[list[Row]] | None = None

    # -- public ---------------------------------------------------------------------

    def wake(self) -> None:
        """Look for new rows now (called after a sweep queued some)."""
        self._wake.set()

    async def run(self, *, on_stop: Callable[[], None] | None = None) -> None:
        """Drain until cancelled; then call `on_stop`, finish what is under
        way and give back the rest (see `stop`)."""
        try:
            while True:
                started = self.time.monotonic()
                claimed = await self._cycle()
                if not self._inflight and not claimed:
                    await self._wait(self._wake, self.idle_poll)
                    continue
                await self._wait(self._progress, 0.25)
                # Gather a few results per transaction rather than one each.
                await self.time.sleep(max(0.0, started + CYCLE_EVERY - self.time.monotonic()))
        except asyncio.CancelledError:
            if on_stop is not None:
                on_stop()
            await self.stop()
            raise

    async def drain(self, timeout: float = 30.0) -> int:
        """Send everything that may go now, then return how many were sent.
        For tests and one-off runs; `run` is the long-running form."""
        before = self.sent_count
        deadline = self.time.monotonic() + timeout
        while True:
            claimed = await self._cycle()
            if not self._inflight and not self._results and not claimed:
                return self.sent_count - before
            if self.time.monotonic() > deadline:
                raise TimeoutError("the outbox did not drain in time")
            await self._wait(self._progress, 0.05)

    async def stop(self) -> None:
        """Stop claiming; let sends under way finish (up to STOP_GRACE
        seconds), record them, and give unsent claims back at once."""
        self._stopping = True
        if self._db_call is not None:
            # A claim interrupted by cancellation still commits in its thread.
            await asyncio.gather(self._db_call, return_exceptions=True)
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        with contextlib.suppress(StorageError):
            await self._cycle()
            await self._db(self.book.release_all)

    # -- the loop -----------------------------------------------------------------------

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    async def _db(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn)

    async def _cycle(self) -> int:
        """Record finished sends and claim more, in one transaction; start the
        new sends. Returns how many rows were claimed."""
        results, self._results = self._results, []
        free = 0 if self._stopping else self.max_in_flight - len(self._inflight)
        if free < max(1, self.max_in_flight // 4) and self._inflight:
            free = 0
        if not results and free <= 0:
            return 0
        self._db_call = asyncio.ensure_future(
            self._db(lambda: self._settle_and_claim(results, free))
        )
        try:
            rows = await asyncio.shield(self._db_call)
        except StorageError as exc:
            log.warning("outbox: database unavailable (%s)", type(exc.__cause__ or exc).__name__)
            self._results = results + self._results
            await self.time.sleep(1.0)
            return 0
        deadline = self.time.monotonic() + self.lease.total_seconds() * 0.8
        for row in rows:
            task = asyncio.create_task(self._send(row, deadline), name=f"outbox-{row.id}")
            self._inflight[task] = row
            task.add_done_callback(self._done)
        return len(rows)

    def _done(self, task: asyncio.Task[None]) -> None:
        row = self._inflight.pop(task, None)
        if task.cancelled() and row is not None:
            self._results.append((row, Abandoned()))
        self._progress.set()

    def _settle_and_claim(self, results: list[tuple[Row, Result]], free: int) -> list[Row]:
        """Runs in a database thread."""
        rows, sent = self.book.settle_and_claim(
            results,
            free,
            platforms=tuple(self.channels),
            held_kinds=self.held_kinds(self.clock()),
        )
        self.sent_count += sent
        return rows

    # -- one message ----------------------------------------------------------------------

    def _backoff(self, attempts: int) -> float:
        delay = min(self.retry_cap, self.retry_base * 2 ** max(0, attempts - 1))
        return delay * self.time.jitter(1.0, 1.2)

    async def _send(self, row: Row, deadline: float) -> None:
        result: Result
        if self._stopping or self.time.monotonic() > deadline:
            result = Abandoned()
        else:
            result = await self._deliver(row)
            if self.metrics is not None:
                self.metrics.delivered(row.platform, row.kind, result)
        self._results.append((row, result))

    async def _deliver(self, row: Row) -> Result:
        out = Outbound(
            row.platform,
            row.address,
            row.text,
            tuple(Choice(data, label) for data, label in row.choices),
            row.columns,
        )
        try:
            return Sent(await self.channels[row.platform].send(out))
        except Unreachable:
            return Failed("Unreachable")
        except RetryAfter as exc:
            return Retry(max(exc.seconds, self._backoff(row.attempts)), "RetryAfter")
        except TransientError:
            return Retry(self._backoff(row.attempts), "TransientError")
        except DeliveryError as exc:
            return Failed(type(exc).__name__)
        except Exception as exc:
            log.error("outbox %d (%s): unexpected %s", row.id, row.kind, type(exc).__name__)
            return Retry(self._backoff(row.attempts), type(exc).__name__)
