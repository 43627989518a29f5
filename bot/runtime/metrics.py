"""Prometheus metrics of one `heard run` process (`GET /metrics`).

Labels are closed sets chosen by Heard, never by what a family sent:
`platform` (telegram, slack, console), `outcome` (handled, storage_error,
error), `kind` (a message kind such as checkin or alert, or an exception
class name). No label ever holds a chat id, a name, a code or any text.

Counters count events in this process; gauges (`heard_outbox_*`,
`heard_followups_due`, `heard_alerts_*`, `heard_report_queries`) are read
from the database at each scrape, so every process reports the same
figures for them: when several processes are scraped, take `max`, not `sum`.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from bot.service.monitoring import Snapshot
from bot.service.outbox import Failed, Result, Retry, Sent

FAILING_AFTER = 3
"""Consecutive failed sends on a platform after which /healthz says "failing"."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.inbound = Counter(
            "heard_inbound_messages",
            "Messages from families and staff, by platform and outcome",
            ["platform", "outcome"],
            registry=r,
        )
        self.replies = Counter(
            "heard_replies_sent",
            "Replies to inbound messages handed to the platform",
            ["platform"],
            registry=r,
        )
        self.outbox_sent = Counter(
            "heard_outbox_sent",
            "Queued messages (follow-ups, alerts) sent, by platform and kind",
            ["platform", "kind"],
            registry=r,
        )
        self.rate_limited = Counter(
            "heard_rate_limited",
            "Sends the platform refused with 429 (too many requests)",
            ["platform"],
            registry=r,
        )
        self.errors = Counter(
            "heard_errors",
            "Errors logged, by kind (an exception class name or a component)",
            ["kind"],
            registry=r,
        )
        self.database_up = Gauge(
            "heard_database_up", "1 when the last database check succeeded", registry=r
        )
        self.outbox_depth = Gauge(
            "heard_outbox_depth",
            "Messages waiting in the outbox or being sent, by platform",
            ["platform"],
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "heard_outbox_oldest_pending_seconds",
            "Age of the oldest message still waiting to go",
            registry=r,
        )
        self.followups_due = Gauge(
            "heard_followups_due", "Follow-ups due now and not yet sent", registry=r
        )
        self.alerts = Gauge(
            "heard_alerts",
            "Safeguarding alerts by state (raised = all, acknowledged, unacknowledged)",
            ["state"],
            registry=r,
        )
        self.report_queries = Gauge(
            "heard_report_queries", "Report queries in the audit log", registry=r
        )
        self._failures: dict[str, int] = defaultdict(int)
        self._depth_platforms: set[str] = set()

    # -- events ---------------------------------------------------------------------

    def handled(self, platform: str, outcome: str, replies: int = 0) -> None:
        self.inbound.labels(platform, outcome).inc()
        if replies:
            self.replies.labels(platform).inc(replies)

    def delivered(self, platform: str, kind: str, result: Result) -> None:
        match result:
            case Sent():
                self.outbox_sent.labels(platform, kind).inc()
                self._failures[platform] = 0
            case Retry(error=error):
                if error == "RetryAfter":
                    self.rate_limited.labels(platform).inc()
                else:
                    self._failures[platform] += 1
            case Failed():
                pass

    def channel_state(self, platform: str) -> str:
        return "failing" if self._failures[platform] >= FAILING_AFTER else "ok"

    def observe(self, snap: Snapshot | None) -> None:
        """Set the gauges from a database snapshot (None: the database is down)."""
        if snap is None:
            self.database_up.set(0)
            return
        self.database_up.set(1)
        self._depth_platforms |= set(snap.outbox_pending)
        for platform in self._depth_platforms:
            self.outbox_depth.labels(platform).set(snap.outbox_pending.get(platform, 0))
        self.outbox_oldest.set(snap.outbox_oldest_pending_s)
        self.followups_due.set(snap.followups_due)
        self.alerts.labels("raised").set(snap.alerts_raised)
        self.alerts.labels("acknowledged").set(snap.alerts_acknowledged)
        self.alerts.labels("unacknowledged").set(snap.alerts_unacknowledged)
        self.report_queries.set(snap.report_queries)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ErrorCounter(logging.Handler):
    """Counts log records at ERROR and above by kind: the exception's class
    name when there is one, else the logger's name. Reads nothing else of the
    record, so no message text reaches a label."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(level=logging.ERROR)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[0] if record.exc_info else None
        kind = exc.__name__ if exc is not None else record.name
        self.metrics.errors.labels(kind[:64]).inc()
