"""Quiet hours: the daily window in which Heard sends families nothing.

Pure: every answer is computed from the moment it is given, in the
organisation's zone, so the window follows the clocks across daylight-saving
changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

QUIET_KINDS = frozenset({"checkin", "reminder", "promise", "yousaid"})
"""Messages to families that wait for the end of quiet hours."""
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in local time, possibly over midnight; empty when
    `start == end`. Times are compared in the organisation's zone, so the
    window follows the clocks across daylight-saving changes."""

    start: clock_time
    end: clock_time
    zone: ZoneInfo

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
