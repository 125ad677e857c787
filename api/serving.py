"""The snapshot being served, and swapping it for a newly published one without dropping a
request.

`snapshots/latest` is polled; a new target is loaded whole in a worker thread (verified
against its manifest, engine and precomputed pages built), and only then does one
reference change. A request reads that reference once and keeps the object it got, so it
finishes on the snapshot it started with. A snapshot that fails to load is refused and
remembered (not retried every poll; `reload(force=True)` retries), and the old one keeps
serving. A server that starts while `latest` is corrupt serves the newest published
snapshot that loads instead, and swaps to `latest` once a good one is published there.
While serving, the server holds a lease on its snapshot (`ranking.publish.hold`), so the
nightly prune never deletes it, and marks each snapshot it loaded as good.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from api.feed import FeedService
from api.history import HistoryWriter
from api.ids import IdCodec
from api.metrics import Metrics
from ranking.engine import Engine
from ranking.live import NO_LIVE_STATE, GrantCache
from ranking.publish import hold, mark_good, published, release
from ranking.snapshot.format import MANIFEST
from ranking.snapshot.reader import ServingSnapshot
from reelrank.control.connection import transaction
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["Live", "Serving", "SwapResult", "warm_up"]

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


def load_live(home: DataHome, directory: Path, history: HistoryWriter | None = None,
              grants: GrantCache | None = None) -> Live:
    """Everything for `directory`, or `ReelrankError`; slow, so never on the event loop.
    `grants`: the process's cache of live grants, kept across snapshots."""
    snap = ServingSnapshot.load(directory, spare_items=home.settings.api_spare_items)
    engine = Engine.load(snap, home.settings)
    _single_threaded_search()
    feeds = home.dir("feeds") / snap.directory.name
    try:
        service = FeedService(engine, feeds if feeds.is_dir() else None, history=history,
                              keys_dir=home.dir("keys"), grants=grants)
    except (OSError, pl.exceptions.PolarsError) as exc:
        # Precomputed pages only save time: without readable ones every user is ranked
        # online, on the same verified snapshot.
        log.warning("precomputed feeds in %s unreadable (%s); ranking online only", feeds, exc)
        service = FeedService(engine, None, history=history, keys_dir=home.dir("keys"),
                              grants=grants)
    # Catch up before serving: what was generated, labelled and posted since the snapshot
    # (the first read of the inbox is its longest), so no request waits for it.
    # The grants too (the first read of every live grant is the long one).
    control = home.control()
    try:
        service.sync(control)
        if grants is not None:
            with transaction(control, read_only=True):
                grants.refresh(control)
    finally:
        control.close()
    warm_up(engine, home.settings.api_warmup_users)
    return Live(service, snap.directory, datetime.now(UTC),
                IdCodec.of(snap.user_ids.dtype, snap.item_ids.dtype))


def warm_up(engine: Engine, users: int, seed: int = 0) -> float:
    """Rank `users` random users of the snapshot (no live state: nothing is read from the
    control store or served) and throw the pages away, so the first page faults of the
    mapped arrays and indexes happen here and not in requests. Seconds it took."""
    snap = engine.snap
    if users <= 0 or not len(snap.user_id_list):
        return 0.0
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(snap.user_id_list), min(users, len(snap.user_id_list)),
                      replace=False)
    try:
        for row in rows.tolist():  # one at a time, as requests rank
            engine.rank([snap.user_id_list[row]], NO_LIVE_STATE, first=20)
    except Exception:  # only a head start: a request that fails the same way says so
        log.exception("warming %s up failed; serving it cold", snap.directory.name)
    took = time.perf_counter() - started
    log.info("warmed %s up with %d users in %.1f s", snap.directory.name, len(rows), took)
    return took


def _single_threaded_search() -> None:
    """One query per request: FAISS's OpenMP pool (which loading an index sets to the
    index's build threads) only oversubscribes the cores when requests run in parallel."""
    import faiss

    faiss.omp_set_num_threads(1)


class Serving:
    """Holds the live snapshot (`current`, None until one loads) and swaps it."""

    def __init__(self, home: DataHome, metrics: Metrics,
                 history: HistoryWriter | None = None) -> None:
        self.home = home
        self.metrics = metrics
        self.history = history
        self.grants = GrantCache()  # one per process, across snapshot swaps
        self.current: Live | None = None
        self._refused: dict[Path, str] = {}
        self._lock = asyncio.Lock()
        self._holder = f"{socket.gethostname()}-{os.getpid()}"
        self._lease: Path | None = None

    def _target(self) -> Path | None:
        link = self.home.dir("snapshots") / "latest"
        return link.resolve() if link.exists() else None

    def _fallbacks(self, refused: Path) -> list[Path]:
        """Other snapshots to serve while `latest` (`refused`) does not load: the published
        ones, newest first, then any other finished one, newest first."""
        root = self.home.dir("snapshots")
        names = list(reversed(published(root) or []))
        others = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                         and not p.name.startswith(".") and (p / MANIFEST).is_file()),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        ordered = [root / n for n in names] + [p for p in others if p.name not in names]
        return [p.resolve() for p in ordered if p.is_dir() and p.resolve() != refused
                and p.resolve() not in self._refused]

    async def _load(self, target: Path) -> Live | None:
        try:
            return await asyncio.to_thread(load_live, self.home, target, self.history,
                                           self.grants)
        except ReelrankError as exc:
            self._refused[target] = str(exc)
            self.metrics.swaps.labels("refused").inc()
            log.error("refusing snapshot %s, still serving %s: %s", target.name,
                      self.current.name if self.current else "nothing", exc)
            return None

    def _serve(self, fresh: Live) -> None:
        self.current = fresh  # the one atomic swap; requests in flight keep the old one
        self.metrics.swaps.labels("loaded").inc()
        self.metrics.snapshot_served(fresh.service.engine.snap.as_of_s,
                                     fresh.loaded_at.timestamp())
        mark_good(self.home.dir("snapshots"), fresh.name)
        self.heartbeat()
        log.info("serving snapshot %s (%d precomputed users)", fresh.name,
                 fresh.service.precomputed_users)

    def heartbeat(self) -> None:
        """Refresh this server's lease on the snapshot it serves."""
        if self.current is not None:
            self._lease = hold(self.home.dir("snapshots"), self.current.name,
                               self.home.settings.api_snapshot_poll_s, self._holder)

    def close(self) -> None:
        if self._lease is not None:
            release(self._lease)

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
            fresh = await self._load(target)
            if fresh is None:
                problem = self._refused[target]
                if current is None:  # starting up: serve the newest good one meanwhile
                    for other in self._fallbacks(target):
                        if (fallback := await self._load(other)) is not None:
                            self._serve(fallback)
                            log.warning("latest snapshot %s does not load; serving %s",
                                        target.name, other.name)
                            break
                now = self.current
                return SwapResult(now.name if now else None, now is not current, problem)
            self._serve(fresh)
            return SwapResult(fresh.name, True)

    async def watch(self, every_s: float) -> None:
        """Poll for a newly published snapshot until cancelled."""
        while True:
            try:
                await self.reload()
                self.heartbeat()
            except OSError as exc:  # the home's filesystem hiccuped; try again next poll
                log.warning("snapshot poll failed: %s", exc)
            await asyncio.sleep(every_s)
