"""Outgoing pace: an overall limit and a per-chat (or per-channel) limit.

Platforms enforce flood limits and answer 429 when they are crossed. Pacing
ourselves a little under those limits means the answer is almost never 429:

- overall: sends are released on a schedule of slots `1 / overall_rate`
  seconds apart. A slot is kept even when the event loop wakes a little late
  for it (up to `TOLERANCE`), so those small delays do not add up and a busy
  process still sends at the full rate; a longer stall gives its slots up
  rather than bursting to catch up. With the `SAFETY` margin below, no
  one-second window holds more than `overall_rate` sends;
- per key: a token bucket of `burst` tokens refilled at `per_key_rate` per
  second, so a reply of two or three messages is not held back, while a
  steady stream to one chat keeps to the sustained rate.

A rate of 0 means no limit (for a local Bot API server or a benchmark).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

SAFETY = 0.97
"""Fraction of each configured rate we actually use, to absorb timing jitter."""
TOLERANCE = 0.01
"""Seconds a release may lag its slot and still count as on time (capped at a
quarter of the interval). Small enough that, with SAFETY, a one-second window
never holds an extra send."""


@dataclass
class _Bucket:
    tokens: float
    updated: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Pacer:
    def __init__(
        self,
        overall_rate: float,
        per_key_rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        safety: float = SAFETY,
    ) -> None:
        self.sleep = sleep
        self.interval = 1.0 / (overall_rate * safety) if overall_rate > 0 else 0.0
        self.tolerance = min(TOLERANCE, self.interval / 4)
        self.key_rate = per_key_rate * safety if per_key_rate > 0 else 0.0
        self.burst = max(1, burst)
        self.clock = clock
        self._last = -1e9
        self._overall = asyncio.Lock()
        self._buckets: dict[str, _Bucket] = {}

    async def wait(self, key: str) -> None:
        """Return when one more message to `key` may be sent."""
        if self.key_rate:
            await self._wait_key(key)
        if self.interval:
            async with self._overall:
                now = self.clock()
                slot = max(self._last + self.interval, now - self.tolerance)
                if slot > now:
                    await self.sleep(slot - now)
                self._last = slot

    def try_take(self, key: str, *, reserve: int = 1) -> bool:
        """Take one send to `key` now if that costs nothing that matters: the
        key keeps `reserve` tokens for the messages that follow, and the
        overall schedule has a free slot this moment. Never waits. For
        cosmetic calls (an edit that removes an old keyboard), which are
        dropped rather than let a real message wait behind them."""
        now = self.clock()
        bucket = None
        if self.key_rate:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if bucket.lock.locked():
                return False
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.key_rate
            )
            bucket.updated = now
            if bucket.tokens < 1.0 + reserve - 1e-9:
                return False
        if self.interval:
            if self._overall.locked():
                return False
            slot = max(self._last + self.interval, now - self.tolerance)
            if slot > now:
                return False
            self._last = slot
        if bucket is not None:
            bucket.tokens -= 1.0
        return True

    def pause(self, seconds: float) -> None:
        """The platform said 429: release nothing more, to anyone, for
        `seconds`, rather than pushing more sends into a full window."""
        if self.interval:
            self._last = max(self._last, self.clock() + seconds - self.interval)

    async def _wait_key(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), self.clock())
        async with bucket.lock:
            while True:
                now = self.clock()
                bucket.tokens = min(
                    float(self.burst), bucket.tokens + (now - bucket.updated) * self.key_rate
                )
                bucket.updated = now
                if bucket.tokens >= 1.0 - 1e-9:
                    bucket.tokens = max(0.0, bucket.tokens - 1.0)
                    break
                await self.sleep(max(0.001, (1.0 - bucket.tokens) / self.key_rate))
        if len(self._buckets) > 10_000:
            self._forget_full_buckets()

    def _forget_full_buckets(self) -> None:
        now = self.clock()
        full_after = self.burst / self.key_rate
        for key in [k for k, b in self._buckets.items() if now - b.updated > full_after]:
            if not self._buckets[key].lock.locked():
                del self._buckets[key]
