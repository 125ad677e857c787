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
import os
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI

from api.admission import Admission
from api.deps import ApiState
from api.errors import install_handlers
from api.history import HistoryWriter
from api.metrics import Metrics
from api.middleware import BodyLimit, RequestMetrics
from api.pool import ControlPool
from api.routes import ROUTERS
from api.serving import Serving
from api.steering import PhraseEmbedder
from reelrank import __version__
from reelrank.event_keys import KnownEventsFile
from reelrank.home import DataHome

__all__ = ["create_app", "create_app_from_env", "multiprocess_metrics_dir"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(home: DataHome, *, clock: Callable[[], datetime] = _utcnow) -> FastAPI:
    """The API over `home`. Nothing heavy happens here: the snapshot loads in the lifespan."""
    metrics = Metrics()
    history = HistoryWriter(home)
    serving = Serving(home, metrics, history)
    pool = ControlPool(home, keep=home.settings.api_control_connections)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Ranking is CPU-bound: more threads than a few per core only queue inside the
        # process (anyio's default is 40).
        anyio.to_thread.current_default_thread_limiter().total_tokens = home.settings.api_threads
        history.start()
        watcher = asyncio.create_task(serving.watch(home.settings.api_snapshot_poll_s),
                                      name="snapshot-watcher")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            serving.close()
            history.stop()  # what was served is written before the process ends
            pool.close()

    app = FastAPI(
        title="reelrank", version=__version__, lifespan=lifespan,
        description="Feed ranking for short AI-generated videos: ranked pages, engagement "
        "events, personalization and parental settings, cameo consent, DM policy.")
    known = KnownEventsFile(home.event_keys_path, home.settings.api_snapshot_poll_s)
    app.state.api = ApiState(home, serving, metrics, pool, clock, known, PhraseEmbedder(home))
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=home.settings.api_max_body_bytes)
    settings = home.settings
    app.add_middleware(Admission, metrics=metrics, max_queued=settings.api_max_queued,
                       retry_after_s=settings.api_retry_after_s, slots=settings.api_feed_slots,
                       shed_after_ms=settings.api_shed_after_ms,
                       degrade_after_ms=settings.api_degrade_after_ms)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: sees every answer
    return app


def create_app_from_env() -> FastAPI:
    """The app over `$REELRANK_HOME`: what each process of `reelrank serve --workers N`
    runs."""
    return create_app(DataHome.open(os.environ["REELRANK_HOME"]))


def multiprocess_metrics_dir(home: DataHome) -> Path:
    """A fresh folder for the metrics files of one multi-process server (a previous
    server's files would be summed in otherwise)."""
    folder = home.root / "run" / f"metrics-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
