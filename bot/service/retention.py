"""Retention: delete what is past the organisation's policy (`[retention]`).

`RetentionJob.apply` walks the rules in `storage.retention.RULES`, each in
batches of `[retention] batch_size` rows, one short transaction per batch, so
the nightly job never holds a long lock over tables the conversation uses.
`RetentionJob.plan` counts the same rows and changes nothing (the dry run).
Only counts are logged and returned: never a row, an id or a date of a row.
The tables it deleted from are queued for scrubbing (`bot.service.erasure`).

Aggregates already published (a digest sent, a report exported) are not
recomputed: they stay as they were reported, and a report run later over a
period whose answers have expired counts only the answers still held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import RetentionConfig
from storage import erasure, repo
from storage import retention as rules
from storage.unit import Store

log = logging.getLogger("heard.retention")


@dataclass(frozen=True, slots=True)
class Line:
    table: str
    policy: str
    """The `[retention]` value that applies, as configured ("90 days")."""
    rows: int


class RetentionJob:
    def __init__(
        self, store: Store, config: RetentionConfig, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def _limits(self) -> list[tuple[rules.Rule, datetime | None, bool, str]]:
        now = self.clock()
        out = []
        for rule in rules.RULES:
            period = self.config.rules()[rule.policy]
            out.append((rule, period.cutoff(now), period.after_case_closed, period.describe()))
        return out

    def plan(self) -> list[Line]:
        """What `apply` would delete now, per table; changes nothing."""
        lines = []
        with self.store.read() as tx:
            for rule, cutoff, after_closed, described in self._limits():
                n = 0 if cutoff is None else rules.count(tx, rule, cutoff, after_closed)
                lines.append(Line(rule.name, described, n))
        return lines

    def apply(self, *, actor: str = "retention job") -> list[Line]:
        """Delete everything past its limit, in batches; returns counts."""
        lines = []
        batch = self.config.batch_size
        for rule, cutoff, after_closed, described in self._limits():
            total = 0
            while cutoff is not None:
                with self.store.begin() as tx:
                    n = rules.delete_batch(tx, rule, cutoff, after_closed, batch)
                total += n
                if n < batch:
                    break
            lines.append(Line(rule.name, described, total))
        deleted = {line.table: line.rows for line in lines if line.rows}
        with self.store.begin() as tx:
            repo.audit(tx, actor, "applied retention", {"deleted": deleted}, self.clock())
            erasure.request(tx, deleted, self.clock())
        log.info(
            "retention: deleted %s",
            ", ".join(f"{t} {n}" for t, n in deleted.items()) or "nothing",
        )
        return lines
