"""One chat's replies go out in the order its messages arrived; other chats
do not wait for it."""

from __future__ import annotations

import asyncio

import pytest

from adapters.ordering import ChatOrder


async def test_turns_of_one_chat_run_in_order_and_other_chats_go_at_once() -> None:
    order = ChatOrder()
    log: list[str] = []
    gate = asyncio.Event()

    async def work(turn_name: str, chat: str, wait: bool) -> None:
        async with turns[turn_name]:
            log.append(f"{turn_name} in")
            if wait:
                await gate.wait()
            log.append(f"{turn_name} out")

    turns = {"a1": order.join("A"), "a2": order.join("A"), "b1": order.join("B")}
    tasks = [
        asyncio.create_task(work("a2", "A", False)),
        asyncio.create_task(work("a1", "A", True)),
        asyncio.create_task(work("b1", "B", False)),
    ]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert log == ["a1 in", "b1 in", "b1 out"]
    gate.set()
    await asyncio.gather(*tasks)
    assert log[3:] == ["a1 out", "a2 in", "a2 out"]
    assert len(order) == 0


async def test_a_failed_or_cancelled_turn_lets_the_next_one_go() -> None:
    order = ChatOrder()
    first, second, third = order.join("A"), order.join("A"), order.join("A")
    with pytest.raises(RuntimeError):
        async with first:
            raise RuntimeError("sending failed")

    blocker = order.join("B")
    waiting_on_b = order.join("B")
    await blocker.__aenter__()
    cancelled = asyncio.create_task(waiting_on_b.__aenter__())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    async with second:
        pass
    async with third:
        pass
    blocker.release()
    assert len(order) == 0
