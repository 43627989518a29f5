"""The alert spool: safety that does not depend on the database.

When the database fails while a family writes something the screen flags,
the conversation keeps the alert here, in one file in the data folder (JSON
lines, owner-only permissions, flushed and fsync'd before the family is
answered), and the family is shown where to get help at once. `drain()`
runs on the follow-up sweep's timer: it raises each spooled alert through
the ordinary alert sink in one transaction, then removes what it raised.

Exactly once: each record carries the platform's delivery id, and the alert
table holds that key uniquely (`delivery_key`), so the spool and the
platform's later redelivery of the same message raise one alert between
them, whichever comes first, and a crash between commit and truncation
raises nothing twice. Records hold the keyed pseudonym, never a raw chat id.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("heard.spool")


class AlertSpool:
    """A durable append-only file of alerts waiting for the database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def put(self, record: dict[str, Any]) -> None:
        """Append one record and fsync it; raises OSError if it cannot."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            new = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # after a torn line (a crash mid-write)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)

    def pending(self) -> tuple[list[dict[str, Any]], int]:
        """The complete records, and how many bytes of the file they fill."""
        with self._lock:
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return [], 0
        end = data.rfind(b"\n") + 1  # a torn last line (a crash mid-write) waits
        records = []
        for raw in data[:end].splitlines():
            try:
                records.append(json.loads(raw))
            except ValueError:
                log.error("an unreadable line in the alert spool was skipped")
        return records, end

    def remove(self, upto: int) -> None:
        """Drop the first `upto` bytes (records now in the database)."""
        with self._lock:
            try:
                rest = self.path.read_bytes()[upto:]
            except FileNotFoundError:
                return
            if not rest:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, rest)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
