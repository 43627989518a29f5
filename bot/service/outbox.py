"""The outbox, as the sender sees it: record what happened to sent messages
and claim the next ones, in one transaction.

The runtime's `Sender` (`bot.runtime.outbox`) does the sending; this module
holds the bookkeeping, so no SQL or transaction lives in the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import repo
from storage.unit import Store

log = logging.getLogger("heard.outbox")

Row = repo.OutboundRow

OnSent = Callable[[str, str | None, str], None]
"""Called as `on_sent(kind, ref, platform_message_id)` in a database worker
thread once a message is recorded as sent (for alerts to record delivery).
Exceptions are logged and never affect delivery."""


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float
    error: str


@dataclass(frozen=True, slots=True)
class Failed:
    error: str


@dataclass(frozen=True, slots=True)
class Abandoned:
    """Not sent: the lease was about to expire, or the sender is stopping."""


Result = Sent | Retry | Failed | Abandoned


class OutboxBook:
    """Settles send results and claims rows for one sending process."""

    def __init__(
        self,
        store: Store,
        *,
        owner: str,
        clock: Callable[[], datetime],
        lease: timedelta,
        max_attempts: int = 8,
        on_sent: OnSent | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock
        self.lease = lease
        self.max_attempts = max(1, max_attempts)
        self.on_sent = on_sent

    def settle_and_claim(
        self,
        results: Sequence[tuple[Row, Result]],
        free: int,
        *,
        platforms: tuple[str, ...],
        held_kinds: Collection[str],
        holding: Collection[int] = (),
    ) -> tuple[list[Row], int]:
        """Record `results`, renew the lease on the rows still `holding`
        (claimed, not yet settled), then claim up to `free` rows; returns the
        claimed rows and how many results were sends. Runs in a database
        thread."""
        now = self.clock()
        sent: list[tuple[int, str]] = []
        with self.store.begin() as tx:
            for row, result in results:
                match result:
                    case Sent(message_id=mid):
                        sent.append((row.id, mid))
                    case Retry(delay=delay, error=error):
                        if row.attempts >= self.max_attempts:
                            repo.fail_outbound(tx, self.owner, row.id, error)
                            log.warning(
                                "outbox %d (%s) failed after %d attempts: %s",
                                row.id,
                                row.kind,
                                row.attempts,
                                error,
                            )
                        else:
                            at = now + timedelta(seconds=delay)
                            repo.retry_outbound(tx, self.owner, row.id, at, error)
                    case Failed(error=error):
                        repo.fail_outbound(tx, self.owner, row.id, error)
                        log.info("outbox %d (%s) not deliverable: %s", row.id, row.kind, error)
                    case Abandoned():
                        repo.release_outbound(tx, self.owner, [row.id])
            repo.mark_outbound_sent(tx, self.owner, sent, now)
            repo.renew_outbound(tx, self.owner, holding, now + self.lease)
            rows: list[Row] = []
            if free > 0:
                rows = repo.claim_outbound(
                    tx,
                    owner=self.owner,
                    now=now,
                    lease_until=now + self.lease,
                    limit=free,
                    platforms=platforms,
                    held_kinds=tuple(held_kinds),
                    exclude=[row.id for row, _ in results] + list(holding),
                )
        if self.on_sent is not None:
            by_id = {row.id: row for row, _ in results}
            for oid, mid in sent:
                try:
                    self.on_sent(by_id[oid].kind, by_id[oid].ref, mid)
                except Exception as exc:
                    log.error("on-sent hook failed for outbox %d: %s", oid, type(exc).__name__)
        return rows, len(sent)

    def release_all(self) -> int:
        """Give back every claim this process holds (on a clean stop)."""
        with self.store.begin() as tx:
            released = repo.release_outbound(tx, self.owner)
        if released:
            log.info("outbox: gave back %d unsent message(s) on stop", released)
        return released

    def take_over_all(self) -> int:
        """At the start of a single-instance process: claims left by a
        process that died are sent again now rather than after their lease.
        Each may be a repeat (it was in flight when that process died)."""
        with self.store.begin() as tx:
            taken = repo.take_over_claims(tx)
        if taken:
            log.warning(
                "outbox: %d message(s) were being sent when Heard last stopped; "
                "sending them again (a family may see one twice)",
                taken,
            )
        return taken

    def ready_count(
        self, *, platforms: tuple[str, ...], held_kinds: Collection[str], cap: int
    ) -> int:
        """Rows that could be sent now, counted up to `cap`."""
        with self.store.read() as tx:
            return repo.count_sendable(
                tx, now=self.clock(), platforms=platforms, held_kinds=tuple(held_kinds), cap=cap
            )

    def prune(self, keep: timedelta) -> int:
        """Delete finished rows (which hold raw addresses) older than `keep`."""
        with self.store.begin() as tx:
            return repo.prune_outbox(tx, self.clock() - keep)
