"""The feed gate of admission control (`api.admission.FeedGate`): a bounded number of feed
requests at once, FIFO while the queue drains, newest first once it stands, a waiter shed at
its deadline, and a slot never lost to a client that went away."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.admission import FeedGate


def _run(coro):
    return asyncio.run(coro)


async def _take_in_turn(gate: FeedGate, n: int, order: list[int]) -> None:
    assert await gate.acquire(time.monotonic())
    order.append(n)
    gate.release()


def test_slots_bound_the_requests_at_once_and_pass_in_arrival_order_while_short() -> None:
    async def scenario() -> list[int]:
        gate = FeedGate(slots=1, shed_after_s=5.0, lifo_after_s=5.0)
        order: list[int] = []
        assert await gate.acquire(time.monotonic())

        tasks = [asyncio.create_task(_take_in_turn(gate, n, order)) for n in range(4)]
        await asyncio.sleep(0.01)
        assert len(gate) == 4 and order == []  # the one slot is held
        gate.release()
        await asyncio.gather(*tasks)
        assert gate.free == 1 and len(gate) == 0
        return order

    assert _run(scenario()) == [0, 1, 2, 3]


def test_a_standing_queue_admits_the_newest_first() -> None:
    async def scenario() -> list[int]:
        gate = FeedGate(slots=1, shed_after_s=5.0, lifo_after_s=0.02)
        order: list[int] = []
        assert await gate.acquire(time.monotonic())

        tasks = []
        for n in range(3):
            tasks.append(asyncio.create_task(_take_in_turn(gate, n, order)))
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)  # the oldest has now waited past lifo_after
        gate.release()
        await asyncio.gather(*tasks)
        return order

    assert _run(scenario())[0] == 2


def test_a_waiter_past_its_deadline_is_refused_and_the_slot_stays() -> None:
    async def scenario() -> None:
        gate = FeedGate(slots=1, shed_after_s=0.03, lifo_after_s=0.01)
        assert await gate.acquire(time.monotonic())
        started = time.monotonic()
        assert not await gate.acquire(started)  # nobody released within 30 ms
        assert 0.02 < time.monotonic() - started < 1.0
        assert not await gate.acquire(started - 1.0)  # already late when it arrived
        assert len(gate) == 0
        gate.release()
        assert gate.free == 1 and await gate.acquire(time.monotonic())

    _run(scenario())


@pytest.mark.parametrize("handed_over", [False, True])
def test_a_cancelled_waiter_never_leaks_a_slot(handed_over: bool) -> None:
    async def scenario() -> None:
        gate = FeedGate(slots=1, shed_after_s=5.0, lifo_after_s=5.0)
        assert await gate.acquire(time.monotonic())
        waiter = asyncio.create_task(gate.acquire(time.monotonic()))
        await asyncio.sleep(0.01)
        if handed_over:
            gate.release()  # the slot passes to the waiter ...
        waiter.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiter
        if not handed_over:
            gate.release()
        assert gate.free == 1 and len(gate) == 0

    _run(scenario())
