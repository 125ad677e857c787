"""The generation worker loop: claim, check consent, render, embed, publish.

Any number of worker processes may run against one data home; the queue's leases keep them
from running a job twice to completion (see `queue`). A worker stops cleanly when `stop` is
set (the CLI sets it on SIGTERM/SIGINT): it claims nothing more, asks the current render to
stop, and hands an unfinished job straight back to the queue instead of leaving it to expire.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import uuid
from collections import Counter
from pathlib import Path

from features.embeddings import Embedder
from generation._common import Clock, utc_now
from generation.backends import (
    GenerationBackend,
    RenderCancelledError,
    RenderError,
    RenderRequest,
    RenderResult,
    load_backend,
)
from generation.consent import missing_consent, refusal_reason
from generation.lease import LeaseKeeper
from generation.publish import Embedded, publish
from generation.queue import Job, claim, refuse, release, retry_or_fail
from reelrank.home import DataHome

__all__ = ["run_worker"]

_log = logging.getLogger(__name__)


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _checked(result: RenderResult, staging: Path) -> RenderResult:
    for path in (result.media_path, result.thumbnail_path):
        if path.parent.resolve() != staging.resolve() or not path.is_file():
            raise RenderError(f"backend returned {path}, not a file in its output directory")
    if not result.duration_s > 0:
        raise RenderError(f"backend returned a clip of {result.duration_s} s")
    return result


class _Worker:
    def __init__(self, home: DataHome, backend: GenerationBackend, embedder: Embedder | None,
                 worker_id: str, clock: Clock, stop: threading.Event) -> None:
        self.home, self.settings = home, home.settings
        self.backend, self.embedder, self.worker_id = backend, embedder, worker_id
        self.clock, self.stop = clock, stop
        self.con = home.control()
        self.lease_con = home.control()  # the lease keeper thread's

    def _render(self, job: Job, keeper: LeaseKeeper, staging: Path) -> RenderResult:
        """The backend's result, checked; any failure of the backend becomes a RenderError."""
        request = RenderRequest(job.request_id, job.prompt, job.cameo_user_ids, job.remix_of,
                                job.attempt)
        try:
            result = self.backend.render(
                request, staging, lambda: self.stop.is_set() or keeper.lost.is_set())
        except (RenderError, RenderCancelledError):
            raise
        except Exception as exc:
            # The backend is plugged in by configuration and may raise anything. A worker that
            # died on each such error would only turn a failed attempt into a lost one (the same
            # retry, later, without the reason), so a crash is recorded as the attempt's failure.
            _log.exception("backend %s crashed on %s", self.backend.name, job.request_id)
            raise RenderError(f"{type(exc).__name__}: {exc}") from exc
        return _checked(result, staging)

    def _embed(self, job: Job) -> Embedded:
        if self.embedder is None:
            return Embedded(None, None)
        return Embedded(self.embedder.encode([job.prompt])[0], self.embedder.model_id)

    def process(self, job: Job) -> str:
        """One claimed job to its next state; returns what happened to it."""
        missing = missing_consent(self.con, job.requester_id, job.cameo_user_ids)
        if missing:
            refused = refuse(self.con, job, self.clock(), refusal_reason(missing, job.requester_id))
            return "refused" if refused else "lost"
        staging = self.home.dir("media") / f".{job.request_id}.{uuid.uuid4().hex[:8]}.tmp"
        staging.mkdir()
        try:
            with LeaseKeeper(self.lease_con, self.settings, job, self.clock) as keeper:
                try:
                    result = self._render(job, keeper, staging)
                except RenderCancelledError:
                    if keeper.lost.is_set() or not release(self.con, job, self.clock()):
                        return "lost"
                    return "released"
                except RenderError as exc:
                    return retry_or_fail(self.con, self.settings, job, self.clock(), str(exc))
                return publish(self.con, job, result, self._embed(job),
                               home_root=self.home.root, now=self.clock())
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def run_worker(home: DataHome, *, once: bool = False, poll_s: float = 1.0,
               embedder: Embedder | None = None, backend: GenerationBackend | None = None,
               worker_id: str | None = None, clock: Clock = utc_now,
               stop: threading.Event | None = None) -> dict[str, int]:
    """Process jobs until `stop` is set (or, with `once`, until none is claimable); returns
    counts of outcomes (done, refused, queued for retry, failed, released, lost)."""
    if poll_s <= 0:
        raise ValueError(f"poll_s must be positive, got {poll_s}")
    worker = _Worker(home, backend or load_backend(home.settings.generation_backend), embedder,
                     worker_id or _default_worker_id(), clock, stop or threading.Event())
    outcomes: Counter[str] = Counter()
    try:
        while not worker.stop.is_set():
            job = claim(worker.con, worker.settings, worker.worker_id, clock())
            if job is None:
                if once:
                    break
                worker.stop.wait(poll_s)
                continue
            outcome = worker.process(job)
            outcomes[outcome] += 1
            _log.info("%s attempt %d: %s", job.request_id, job.attempt, outcome)
    finally:
        worker.con.close()
        worker.lease_con.close()
    return dict(outcomes)
