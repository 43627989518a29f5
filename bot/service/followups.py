"""Follow-ups: turning due rows into outbox messages, one batch a transaction.

The engine asks for follow-ups as effects (`ScheduleFollowUp("checkin", …)`
after a finished survey, `("reminder", …)` when a survey starts). The
conversation stores them as rows in `followups` with a due time, a kind and
an idempotency key (`checkin:<round>`, `reminder:<round>`): rows, not
APScheduler jobs, so thousands cost nothing and survive restarts, and a key
that was sent once is never sent again (one reminder per survey at most).

`FollowUps.sweep` claims due rows in batches of up to 200 (`FOR UPDATE SKIP
LOCKED` and a lease on PostgreSQL; a family whose own message is being
handled that instant is left for the next sweep), runs `Conversation.follow_up`
for each (which says nothing to a family that stopped, declined, blocked the
bot or was forgotten), queues the replies in the outbox and marks the
follow-up done. A follow-up and its messages are committed together or not
at all. While quiet hours last the sweep claims nothing but danger checks
(an unanswered "Is anyone in danger right now?", which upgrades an alert to
the duty team and says nothing to the family). The runtime
(`bot.runtime.followups`) calls it on an APScheduler interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import ScheduleConfig
from bot.core.engine import DANGER_CHECK
from bot.core.messages import Outbound
from bot.service.conversation import Conversations
from storage import repo
from storage.unit import Tx, is_database_error, savepoint

log = logging.getLogger("heard.followups")

BATCH = 200
"""Follow-ups per sweep transaction."""

Monotonic = Callable[[], float]


@dataclass
class SweepResult:
    done: int = 0
    """Follow-ups that became messages in the outbox."""
    messages: int = 0
    cancelled: int = 0
    """Nothing to say (stopped, unreachable, case closed, …)."""
    failed: int = 0
    """Raised an error; tried again when the lease expires, unless it was its
    last attempt (then it is marked failed: see `given_up`)."""
    given_up: int = 0
    """Raised on their last attempt and were marked failed."""
    quiet: bool = False
    spooled: int = 0
    """Alerts kept in the spool while the database was down, raised now."""


class FollowUps:
    """Turns due follow-ups into outbox messages (see the module docstring).
    Synchronous: run it on a database worker thread."""

    def __init__(
        self,
        conversation: Conversations,
        schedule: ScheduleConfig,
        *,
        owner: str,
        batch: int = BATCH,
        max_batches: int = 50,
        monotonic: Monotonic | None = None,
    ) -> None:
        self.conversation = conversation
        self.store = conversation.store
        self.quiet = schedule.quiet_hours()
        self.monotonic = monotonic or conversation.monotonic
        self.lease = schedule.lease
        self.attempts = schedule.followup_attempts
        self.owner = owner
        self.batch = batch
        self.max_batches = max_batches

    def sweep(self, *, budget: float | None = None, max_messages: int | None = None) -> SweepResult:
        """Process due follow-ups, batch by batch, until none are left, or
        `max_batches`, `budget` seconds or `max_messages` queued are used up
        (the next sweep goes on)."""
        result = SweepResult()
        result.spooled = self.conversation.drain_spool()
        started = self.monotonic()
        for _ in range(self.max_batches):
            now = self.conversation.clock()
            if self.quiet.contains(now):
                result.quiet = True
                self._batch(now, result, kinds=(DANGER_CHECK,))
                break
            if self._batch(now, result) < self.batch:
                break
            if budget is not None and self.monotonic() - started > budget:
                break
            if max_messages is not None and result.messages >= max_messages:
                break
        return result

    def _batch(
        self,
        now: datetime,
        result: SweepResult,
        *,
        careful: bool = False,
        kinds: tuple[str, ...] = (),
    ) -> int:
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
        given_up: list[int] = []
        try:
            with self.store.begin() as tx:
                due = repo.claim_followups(
                    tx,
                    owner=self.owner,
                    now=now,
                    lease_until=now + self.lease,
                    limit=self.batch,
                    kinds=kinds,
                )
                if not due:
                    return 0
                closed = repo.respondents_with_closed_case(tx, {d.respondent_id for d in due})
                for item in due:
                    if item.respondent_id in closed and item.kind != DANGER_CHECK:
                        cancelled.append(item.id)
                        continue
                    outs = self._run(tx, item, careful=careful)
                    if outs is None:
                        failed += 1
                        if item.attempts >= self.attempts:
                            given_up.append(item.id)
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
                repo.enqueue_outbound_rows(tx, messages)
                repo.finish_followups(tx, done, "done")
                repo.finish_followups(tx, cancelled, "cancelled")
                repo.finish_followups(tx, given_up, "failed")
        except _RunCarefully:
            return self._batch(now, result, careful=True, kinds=kinds)
        result.done += len(done)
        result.messages += len(messages)
        result.cancelled += len(cancelled)
        result.failed += failed
        result.given_up += len(given_up)
        return len(due)

    def _run(self, tx: Tx, item: repo.DueFollowUp, *, careful: bool) -> list[Outbound] | None:
        """The follow-up's replies; None if it raised in a careful run (its
        changes are rolled back to its savepoint)."""
        if not careful:
            try:
                return self.conversation.follow_up(tx, item.respondent_id, item.kind)
            except Exception as exc:
                if is_database_error(exc):
                    raise
                raise _RunCarefully() from None
        try:
            with savepoint(tx):
                return self.conversation.follow_up(tx, item.respondent_id, item.kind)
        except Exception as exc:
            if is_database_error(exc):
                raise
            if item.attempts >= self.attempts:
                log.error(
                    "follow-up %d (%s) failed with %s on attempt %d of %d; marked failed, "
                    "not tried again",
                    item.id,
                    item.kind,
                    type(exc).__name__,
                    item.attempts,
                    self.attempts,
                )
            else:
                log.warning(
                    "follow-up %d (%s) failed with %s on attempt %d of %d; tried again when "
                    "its lease expires",
                    item.id,
                    item.kind,
                    type(exc).__name__,
                    item.attempts,
                    self.attempts,
                )
            return None


class _RunCarefully(Exception):
    """A follow-up raised in a batch run without savepoints."""
