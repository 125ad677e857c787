"""Admission: under overload, degrade within the latency budget, then shed, never queue to
seconds.

Every request is stamped when it arrives (`arrived_s` in the ASGI scope's state). At most
`slots` feed requests run at once (`api_feed_slots`: ranking is CPU-bound and holds the GIL,
so more at once only slows each one and starves the event loop that accepts the rest); the
others wait in the event loop, where waiting costs nothing. While the queue drains quickly
they are admitted in arrival order; once the oldest has waited past the degrade budget the
queue is standing, and the newest is admitted first (adaptive LIFO: under overload the
requests served are the fresh ones, and the stale ones are the ones shed). A request not
admitted within `api_shed_after_ms`, or arriving when `api_max_queued` are already waiting
or running, is answered at once with 503 and a `Retry-After` (shed). A feed request that has
waited more than `api_degrade_after_ms` by the time it is admitted is served the cheap way:
the batch's page or a cached unpersonalized page, with the policy applied live as always,
instead of an online ranking that would miss the deadline (degraded;
`X-Reelrank-Feed: degraded`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from api.metrics import Metrics

__all__ = ["Admission", "FeedGate", "waited_ms"]

_FEED = "/v1/feed"


def waited_ms(scope: Scope) -> float:
    """How long the request has been in this server (0 when it was not stamped)."""
    arrived = scope.get("state", {}).get("arrived_s")
    return 0.0 if arrived is None else (time.monotonic() - arrived) * 1000.0


class _Waiter:
    __slots__ = ("arrived", "future", "timer")

    def __init__(self, arrived: float, future: asyncio.Future) -> None:
        self.arrived, self.future, self.timer = arrived, future, None


class FeedGate:
    """`slots` feed requests at once; waiters admitted FIFO while the oldest has waited
    less than `lifo_after_s`, newest first after that; a waiter still waiting after
    `shed_after_s` is refused. Runs on the event loop only (no locks)."""

    def __init__(self, slots: int, shed_after_s: float, lifo_after_s: float) -> None:
        self.free, self.shed_after, self.lifo_after = slots, shed_after_s, lifo_after_s
        self.waiting: deque[_Waiter] = deque()

    def __len__(self) -> int:
        return len(self.waiting)

    async def acquire(self, arrived: float) -> bool:
        """True once a slot is this request's (give it back with `release`), False when
        it waited past the shed deadline."""
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return True
        left = self.shed_after - (time.monotonic() - arrived)
        if left <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter = _Waiter(arrived, loop.create_future())
        waiter.timer = loop.call_later(left, self._expire, waiter)
        self.waiting.append(waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:  # the client went away while it waited
            waiter.timer.cancel()
            if waiter.future.done() and not waiter.future.cancelled() \
                    and waiter.future.result():
                self.release()  # the slot was handed over as it was cancelled
            else:
                self._forget(waiter)
            raise

    def release(self) -> None:
        now = time.monotonic()
        while self.waiting:
            oldest = self.waiting[0]
            waiter = (self.waiting.pop() if now - oldest.arrived > self.lifo_after
                      else self.waiting.popleft())
            waiter.timer.cancel()
            if not waiter.future.done():
                waiter.future.set_result(True)  # the slot passes to it directly
                return
        self.free += 1

    def _expire(self, waiter: _Waiter) -> None:
        self._forget(waiter)
        if not waiter.future.done():
            waiter.future.set_result(False)

    def _forget(self, waiter: _Waiter) -> None:
        try:
            self.waiting.remove(waiter)
        except ValueError:
            pass


class Admission:
    def __init__(self, app: ASGIApp, metrics: Metrics, *, max_queued: int, retry_after_s: int,
                 slots: int, shed_after_ms: float, degrade_after_ms: float) -> None:
        self.app, self.metrics = app, metrics
        self.max_queued, self.retry_after = max_queued, str(retry_after_s)
        self.gate = FeedGate(slots, shed_after_ms / 1000.0, degrade_after_ms / 1000.0)
        self.in_flight = 0

    async def _shed(self, send: Send) -> None:
        self.metrics.pages.labels("shed").inc()
        body = json.dumps({"detail": "the server is at capacity; retry shortly"}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"),
                                (b"retry-after", self.retry_after.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        scope.setdefault("state", {})["arrived_s"] = arrived
        if scope["path"] != _FEED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_queued:
            await self._shed(send)
            return
        self.in_flight += 1
        try:
            if not await self.gate.acquire(arrived):
                await self._shed(send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self.gate.release()
        finally:
            self.in_flight -= 1
