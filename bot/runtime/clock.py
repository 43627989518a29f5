"""Time for the running process, in one injectable object.

The composition root makes one `Time` and hands it to everything in the
runtime that waits, measures or timestamps (the sweep, the outbox sender,
the alert chase), so tests can run those without real sleeps.
"""

from __future__ import annotations

import asyncio
import random
import time as _time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Time:
    now: Callable[[], datetime] = utc_now
    """Wall-clock time (UTC) for timestamps and due times."""
    monotonic: Callable[[], float] = _time.monotonic
    """For measuring intervals and budgets."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """How the runtime waits."""
    jitter: Callable[[float, float], float] = random.uniform
    """A random factor between two bounds, for retry backoff."""


SYSTEM = Time()
