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
  waiting or in flight, so one chat's messages arrive in the order queued;
  inside the process every send to one address waits for the one before it,
  and if that one did not go, gives its row back to be claimed in turn;
- replies to a family's own message take a shorter way (`send_now`): the
  conversation stores them already claimed by this process, and they are sent
  the moment their transaction commits, with no claim in between. Their
  results are recorded by the same batched transaction as everything else.

Logs name outbox ids, kinds and error classes, never an address or a text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import TypeVar

from bot.config import Config
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
from storage import repo
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


def _row_of(out: Outbound, outbox_id: int) -> Row:
    return Row(
        id=outbox_id,
        platform=out.platform,
        address=out.chat_id,
        text=out.text,
        choices=tuple((c.data, c.label) for c in out.choices),
        columns=out.columns,
        kind=repo.HIDE_KIND if out.hide_chat else repo.REPLY_KIND,
        ref=None,
        attempts=1,
    )


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
        self._inflight: dict[asyncio.Task[Result], Row] = {}
        self._tails: dict[tuple[str, str], asyncio.Task[Result]] = {}
        self._results: list[tuple[Row, Result]] = []
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._stopping = False
        self._db_call: asyncio.Future[list[Row]] | None = None
        self._renewed_at = time.monotonic()

    # -- public ---------------------------------------------------------------------

    def wake(self) -> None:
        """Look for new rows now (called after a sweep queued some)."""
        self._wake.set()

    def send_now(self, replies: Sequence[Outbound]) -> None:
        """Send replies that the conversation queued already claimed by this
        process (`outbox_id` set), at once and in order, each after whatever
        this process is still sending to the same chat."""
        deadline = self.time.monotonic() + self.lease.total_seconds() * 0.8
        for out in replies:
            if out.outbox_id is not None:
                self._start(_row_of(out, out.outbox_id), deadline)
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

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
        """Wait for `event` at most `timeout` seconds. Not `asyncio.wait_for`:
        on Python 3.11 it can swallow a cancellation that arrives just as the
        event is set, and the sender then ran on after `stop`, for ever."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
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
        renew_due = bool(self._inflight) and (
            self.time.monotonic() - self._renewed_at > self.lease.total_seconds() / 4
        )
        if not results and free <= 0 and not renew_due:
            return 0
        settled = {row.id for row, _ in results}
        holding = [row.id for row in self._inflight.values() if row.id not in settled]
        self._renewed_at = self.time.monotonic()
        self._db_call = asyncio.ensure_future(
            self._db(lambda: self._settle_and_claim(results, free, holding))
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
            self._start(row, deadline)
        return len(rows)

    def _start(self, row: Row, deadline: float) -> None:
        key = (row.platform, row.address)
        before = self._tails.get(key)
        task = asyncio.create_task(self._send(row, deadline, before), name=f"outbox-{row.id}")
        self._inflight[task] = row
        self._tails[key] = task
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Result]) -> None:
        row = self._inflight.pop(task, None)
        if row is not None:
            key = (row.platform, row.address)
            if self._tails.get(key) is task:
                del self._tails[key]
            if task.cancelled():
                self._results.append((row, Abandoned()))
        self._progress.set()

    def _settle_and_claim(
        self, results: list[tuple[Row, Result]], free: int, holding: list[int]
    ) -> list[Row]:
        """Runs in a database thread."""
        rows, sent = self.book.settle_and_claim(
            results,
            free,
            platforms=tuple(self.channels),
            held_kinds=self.held_kinds(self.clock()),
            holding=holding,
        )
        self.sent_count += sent
        return rows

    # -- one message ----------------------------------------------------------------------

    def _backoff(self, attempts: int) -> float:
        delay = min(self.retry_cap, self.retry_base * 2 ** max(0, attempts - 1))
        return delay * self.time.jitter(1.0, 1.2)

    async def _send(self, row: Row, deadline: float, before: asyncio.Task[Result] | None) -> Result:
        result: Result
        went = True
        if before is not None:
            await asyncio.wait({before})
            went = not before.cancelled() and isinstance(before.result(), Sent)
        if not went or self._stopping or self.time.monotonic() > deadline:
            # Behind a message that did not go: give the row back, so it is
            # claimed after that one and the chat's order holds.
            result = Abandoned()
        else:
            result = await self._deliver(row)
            if self.metrics is not None:
                self.metrics.delivered(row.platform, row.kind, result)
        self._results.append((row, result))
        return result

    async def _deliver(self, row: Row) -> Result:
        out = Outbound(
            row.platform,
            row.address,
            row.text,
            tuple(Choice(data, label) for data, label in row.choices),
            row.columns,
            hide_chat=row.kind == repo.HIDE_KIND,
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
