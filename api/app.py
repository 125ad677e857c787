"""The app: routes, error translation, the body-size limit and request metrics, and a
lifespan that starts the snapshot watcher (which loads the first snapshot, then swaps in
each newly published one).

The server starts answering before the first snapshot has loaded (which takes a while on a
large catalog): /healthz answers at once, /readyz says 503 until the snapshot is there, and
endpoints that need it answer 503 meanwhile; settings work throughout, and so do events,
except that one naming a user or item the control store does not know is 503 until the
snapshot can say whether the pipeline knows it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import anyio.to_thread
from fastapi import FastAPI

from api.deps import ApiState
from api.errors import install_handlers
from api.metrics import Metrics
from api.middleware import BodyLimit, RequestMetrics
from api.pool import ControlPool
from api.routes import ROUTERS
from api.serving import Serving
from reelrank import __version__
from reelrank.event_keys import KnownEventsFile
from reelrank.home import DataHome

__all__ = ["create_app"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(home: DataHome, *, clock: Callable[[], datetime] = _utcnow) -> FastAPI:
    """The API over `home`. Nothing heavy happens here: the snapshot loads in the lifespan."""
    metrics = Metrics()
    serving = Serving(home, metrics)
    pool = ControlPool(home, keep=home.settings.api_control_connections)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Ranking is CPU-bound: more threads than a few per core only queue inside the
        # process (anyio's default is 40).
        anyio.to_thread.current_default_thread_limiter().total_tokens = home.settings.api_threads
        watcher = asyncio.create_task(serving.watch(home.settings.api_snapshot_poll_s),
                                      name="snapshot-watcher")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            serving.close()
            pool.close()

    app = FastAPI(
        title="reelrank", version=__version__, lifespan=lifespan,
        description="Feed ranking for short AI-generated videos: ranked pages, engagement "
        "events, personalization and parental settings, cameo consent, DM policy.")
    known = KnownEventsFile(home.event_keys_path, home.settings.api_snapshot_poll_s)
    app.state.api = ApiState(home, serving, metrics, pool, clock, known)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=home.settings.api_max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: sees every answer
    return app
