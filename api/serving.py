"""The snapshot being served, and swapping it for a newly published one without dropping a
request.

`snapshots/latest` is polled; a new target is loaded whole in a worker thread (verified
against its manifest, engine and precomputed pages built), and only then does one
reference change. A request reads that reference once and keeps the object it got, so it
finishes on the snapshot it started with. A snapshot that fails to load is refused and
remembered (not retried every poll; `reload(force=True)` retries), and the old one keeps
serving.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from api.feed import FeedService
from api.ids import IdCodec
from api.metrics import Metrics
from ranking.engine import Engine
from ranking.snapshot.reader import ServingSnapshot
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["Live", "Serving", "SwapResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Live:
    """One loaded snapshot with everything a request needs from it."""

    service: FeedService
    directory: Path
    loaded_at: datetime
    codec: IdCodec

    @property
    def name(self) -> str:
        return self.directory.name


@dataclass(frozen=True)
class SwapResult:
    snapshot: str | None
    changed: bool
    refused: str | None = None


def load_live(home: DataHome, directory: Path) -> Live:
    """Everything for `directory`, or `ReelrankError`; slow, so never on the event loop."""
    snap = ServingSnapshot.load(directory, spare_items=home.settings.api_spare_items)
    engine = Engine.load(snap, home.settings)
    _single_threaded_search()
    feeds = home.dir("feeds") / snap.directory.name
    try:
        service = FeedService(engine, feeds if feeds.is_dir() else None)
    except (OSError, pl.exceptions.PolarsError) as exc:
        # Precomputed pages only save time: without readable ones every user is ranked
        # online, on the same verified snapshot.
        log.warning("precomputed feeds in %s unreadable (%s); ranking online only", feeds, exc)
        service = FeedService(engine, None)
    return Live(service, snap.directory, datetime.now(UTC),
                IdCodec.of(snap.user_ids.dtype, snap.item_ids.dtype))


def _single_threaded_search() -> None:
    """One query per request: FAISS's OpenMP pool (which loading an index sets to the
    index's build threads) only oversubscribes the cores when requests run in parallel."""
    import faiss

    faiss.omp_set_num_threads(1)


class Serving:
    """Holds the live snapshot (`current`, None until one loads) and swaps it."""

    def __init__(self, home: DataHome, metrics: Metrics) -> None:
        self.home = home
        self.metrics = metrics
        self.current: Live | None = None
        self._refused: dict[Path, str] = {}
        self._lock = asyncio.Lock()

    def _target(self) -> Path | None:
        link = self.home.dir("snapshots") / "latest"
        return link.resolve() if link.exists() else None

    async def reload(self, *, force: bool = False) -> SwapResult:
        """Serve what `snapshots/latest` points at now, if it loads; else keep serving."""
        async with self._lock:
            target = self._target()
            current = self.current
            if target is None or (current is not None and current.directory == target):
                return SwapResult(current.name if current else None, False)
            if target in self._refused and not force:
                return SwapResult(current.name if current else None, False,
                                  self._refused[target])
            try:
                fresh = await asyncio.to_thread(load_live, self.home, target)
            except ReelrankError as exc:
                self._refused[target] = str(exc)
                self.metrics.swaps.labels("refused").inc()
                log.error("refusing snapshot %s, still serving %s: %s", target.name,
                          current.name if current else "nothing", exc)
                return SwapResult(current.name if current else None, False, str(exc))
            self.current = fresh  # the one atomic swap; requests in flight keep the old one
            self.metrics.swaps.labels("loaded").inc()
            self.metrics.snapshot_served(fresh.service.engine.snap.as_of_s,
                                         fresh.loaded_at.timestamp())
            log.info("serving snapshot %s (%d precomputed users)", fresh.name,
                     fresh.service.precomputed_users)
            return SwapResult(fresh.name, True)

    async def watch(self, every_s: float) -> None:
        """Poll for a newly published snapshot until cancelled."""
        while True:
            try:
                await self.reload()
            except OSError as exc:  # the home's filesystem hiccuped; try again next poll
                log.warning("snapshot poll failed: %s", exc)
            await asyncio.sleep(every_s)
