"""What operators watch: is the database there, and how much is waiting.

`Monitoring.figures` is one read-only transaction of aggregate counts for
`/healthz` and `/metrics` (`bot.runtime.health`); no personal data leaves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from storage import monitoring
from storage.unit import Store


@dataclass(frozen=True, slots=True)
class Snapshot:
    outbox_pending: dict[str, int]
    outbox_oldest_pending_s: float
    """Age of the oldest message still waiting to go (0 when none is)."""
    followups_due: int
    alerts_raised: int
    alerts_acknowledged: int
    alerts_unacknowledged: int
    report_queries: int


class Monitoring:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def snapshot(self) -> Snapshot:
        """Raises StorageError when the database cannot be reached."""
        now = self.clock()
        with self.store.read() as tx:
            monitoring.ping(tx)
            f = monitoring.figures(tx, now)
        oldest = f.outbox_oldest_pending
        return Snapshot(
            outbox_pending=f.outbox_pending,
            outbox_oldest_pending_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            followups_due=f.followups_due,
            alerts_raised=f.alerts_raised,
            alerts_acknowledged=f.alerts_acknowledged,
            alerts_unacknowledged=f.alerts_raised - f.alerts_acknowledged,
            report_queries=f.report_queries,
        )
