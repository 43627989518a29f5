"""The pacer keeps every one-second window under the platform's limits, on a
clock the test controls (no real waiting)."""

from __future__ import annotations

import asyncio
import bisect
import itertools

from adapters.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _max_in_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + width) - i for i, t in enumerate(times))


async def test_overall_rate_holds_in_every_window_and_is_nearly_used() -> None:
    clock = Clock()
    pacer = Pacer(30, 0, clock=clock, sleep=clock.sleep)
    sent = []
    for n in range(300):
        await pacer.wait(f"chat{n}")
        sent.append(clock())
    assert _max_in_window(sent) <= 30
    assert 300 / (sent[-1] - sent[0]) >= 0.95 * 30


async def test_one_chat_gets_a_short_burst_then_its_sustained_rate() -> None:
    clock = Clock()
    pacer = Pacer(0, 1.0, burst=3, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(10):
        await pacer.wait("one")
        sent.append(clock())
    assert sent[:3] == [0.0, 0.0, 0.0]
    gaps = [b - a for a, b in itertools.pairwise(sent[2:])]
    assert all(gap >= 1.0 - 1e-6 for gap in gaps)


async def test_a_429_pauses_every_send() -> None:
    clock = Clock()
    pacer = Pacer(30, 0, clock=clock, sleep=clock.sleep)
    await pacer.wait("a")
    pacer.pause(2.0)
    await pacer.wait("b")
    assert clock() >= 2.0


async def test_zero_means_no_limit() -> None:
    clock = Clock()
    pacer = Pacer(0, 0, clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(pacer.wait("x") for _ in range(100)))
    assert clock() == 0.0
