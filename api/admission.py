"""Admission: under overload, degrade within the latency budget, then shed, never queue to
seconds.

Every request is stamped when it arrives (`arrived_s` in the ASGI scope's state). Feed requests
beyond `api_max_queued` already waiting or running are answered at once with 503 and a
`Retry-After` (shed). A feed request that has waited more than `api_degrade_after_ms` by the
time it is handled (a busy server: threads full, cores busy) is served the cheap way: the
batch's page or a cached unpersonalized page, with the policy applied live as always, instead
of an online ranking that would miss the deadline (degraded; `X-Reelrank-Feed: degraded`).
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from api.metrics import Metrics

__all__ = ["Admission", "waited_ms"]

_FEED = "/v1/feed"


def waited_ms(scope: Scope) -> float:
    """How long the request has been in this server (0 when it was not stamped)."""
    arrived = scope.get("state", {}).get("arrived_s")
    return 0.0 if arrived is None else (time.monotonic() - arrived) * 1000.0


class Admission:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_queued: int, retry_after_s: int
                 ) -> None:
        self.app, self.metrics = app, metrics
        self.max_queued, self.retry_after = max_queued, str(retry_after_s)
        self.in_flight = 0

    async def _shed(self, send: Send) -> None:
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
        scope.setdefault("state", {})["arrived_s"] = time.monotonic()
        if scope["path"] != _FEED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_queued:
            self.metrics.pages.labels("shed").inc()
            await self._shed(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
