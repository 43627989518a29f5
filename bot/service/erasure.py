"""After an erasure: make the deleted rows unrecoverable from the database's
own files (see `storage.erasure` for what each database keeps).

Every erasure (the family's "forget", `heard forget`, the retention job,
closing a case) records which tables it deleted from, in its own
transaction. `Scrubber.run` then, outside any transaction:

1. waits while the last reply to an erased family is still to be sent (it
   holds their raw chat id), and deletes it once it has gone;
2. checkpoints the WAL (SQLite) or vacuums the tables named (PostgreSQL);
3. settles the requests it covered.

`heard run` calls it every `SCRUB_EVERY` seconds (`bot.runtime.erasure`), so
traces are gone within about a minute of a "forget"; `heard forget` and
`heard retention` call it at once as well. A step that fails or finds SQLite
busy leaves the requests for the next run: nothing is settled undone.
Only table names and counts are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from storage import erasure
from storage.unit import Store

log = logging.getLogger("heard.erasure")

SCRUB_EVERY = 30.0
"""Seconds between the duty's runs in `heard run`."""


@dataclass(frozen=True, slots=True)
class Scrub:
    tables: tuple[str, ...] = ()
    """The tables scrubbed by this run (empty: nothing was done)."""
    waiting: bool = False
    """Requests remain for a later run (a goodbye still to send, SQLite busy)."""


class Scrubber:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def run(self) -> Scrub:
        """Scrub everything that erasures so far asked for; see the module."""
        with self.store.begin() as tx:
            todo = erasure.pending(tx)
            if not todo.ids:
                return Scrub()
            if erasure.farewells_waiting(tx):
                return Scrub(waiting=True)
            erasure.delete_farewells(tx)
        if not self.store.compact(todo.tables):
            log.info("erasure: the database was busy; scrubbing again shortly")
            return Scrub(waiting=True)
        with self.store.begin() as tx:
            erasure.settle(tx, todo.ids)
        log.info("erasure: scrubbed %s", ", ".join(todo.tables))
        return Scrub(todo.tables)
