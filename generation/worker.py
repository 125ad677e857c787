"""The generation worker loop: claim, check (people and the remixed item exist, consent),
render, rate, embed, publish.

The existence checks read the published serving snapshot's users and items
(`ranking.directory`; re-read when a new one is published) and the control store; a
snapshot that cannot be read fails the attempt (retried), it never waves a job through.
Each item is rated by the configured classifier (`generation.rating`) on its prompt, and a
remix is rated at least as restrictively as the item it remixes; a classifier that fails
leaves the item unrated, which no supervised account is shown.

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
from dataclasses import replace
from pathlib import Path

import polars as pl

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
from generation.consent import check_request
from generation.lease import LeaseKeeper
from generation.publish import Embedded, publish
from generation.queue import Job, claim, refuse, release, retry_or_fail
from generation.rating import ContentClassifier, Rating, load_classifier, worst
from ranking.directory import Directory, KnownItem
from reelrank.control.connection import TRANSIENT_ERRORS
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


class _SnapshotUnreadableError(RenderError):
    """The published snapshot's users and items could not be read: this attempt fails."""


class _Worker:
    def __init__(self, home: DataHome, backend: GenerationBackend, embedder: Embedder | None,
                 worker_id: str, clock: Clock, stop: threading.Event,
                 classifier: ContentClassifier) -> None:
        self.home, self.settings = home, home.settings
        self.backend, self.embedder, self.worker_id = backend, embedder, worker_id
        self.clock, self.stop, self.classifier = clock, stop, classifier
        self.con = home.control()
        self.lease_con = home.control()  # the lease keeper thread's
        self._directory: tuple[Path | None, Directory] = (None, Directory())

    def reconnect(self) -> None:
        """New control-store connections for those the server dropped (PostgreSQL)."""
        for name in ("con", "lease_con"):
            con = getattr(self, name)
            if getattr(con, "broken", False):
                con.close()
                setattr(self, name, self.home.control())

    def directory(self) -> Directory:
        """The published snapshot's users and items, read again only when `latest` moves
        (an empty directory before any snapshot is published)."""
        link = self.home.dir("snapshots") / "latest"
        target = link.resolve() if link.exists() else None
        if target != self._directory[0]:
            try:
                found = Directory() if target is None else Directory.read(target)
            except (OSError, pl.exceptions.PolarsError) as exc:
                raise _SnapshotUnreadableError(
                    f"cannot read the published snapshot's users and items: {exc}") from exc
            self._directory = (target, found)
        return self._directory[1]

    def _rate(self, job: Job, source: KnownItem | None) -> Rating:
        """The classifier's rating of the prompt; a remix is at least as restricted as what
        it remixes."""
        try:
            rating = self.classifier.rate(job.prompt)
        except Exception as exc:  # noqa: BLE001 - plugged in, may raise anything
            # Plugged in by configuration (possibly a remote model) and may raise anything.
            # Unrated is the safe failure: adults still get the video, no child does, and a
            # moderator can rate it.
            _log.warning("classifier %s failed on %s (%s: %s); publishing it unrated",
                         self.classifier.name, job.request_id, type(exc).__name__, exc)
            rating = Rating("unrated", ("classifier_failed",), self.classifier.name)
        if source is None or worst([rating.label, source.safety_label]) == rating.label:
            return rating
        return Rating(worst([rating.label, source.safety_label]),
                      (*rating.categories, f"remix_of:{source.safety_label}"), rating.rated_by)

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
        try:
            directory = self.directory()
        except _SnapshotUnreadableError as exc:
            return retry_or_fail(self.con, self.settings, job, self.clock(), str(exc))
        checked = check_request(self.con, directory, job.requester_id, job.cameo_user_ids,
                                job.remix_of)
        if checked.refusal is not None:
            refused = refuse(self.con, job, self.clock(), checked.refusal)
            return "refused" if refused else "lost"
        # Everyone in the video, the remixed item's cameos included: what publishing checks
        # again and what the item lists.
        job = replace(job, cameo_user_ids=checked.cameo_user_ids)
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
                               home_root=self.home.root, now=self.clock(),
                               rating=self._rate(job, checked.source))
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def run_worker(home: DataHome, *, once: bool = False, poll_s: float = 1.0,
               embedder: Embedder | None = None, backend: GenerationBackend | None = None,
               worker_id: str | None = None, clock: Clock = utc_now,
               stop: threading.Event | None = None,
               classifier: ContentClassifier | None = None) -> dict[str, int]:
    """Process jobs until `stop` is set (or, with `once`, until none is claimable); returns
    counts of outcomes (done, refused, queued for retry, failed, released, lost).
    `backend`, `classifier`: the settings' (`generation_backend`, `generation_classifier`)
    when None."""
    if poll_s <= 0:
        raise ValueError(f"poll_s must be positive, got {poll_s}")
    worker = _Worker(home, backend or load_backend(home.settings.generation_backend), embedder,
                     worker_id or _default_worker_id(), clock, stop or threading.Event(),
                     classifier or load_classifier(home.settings.generation_classifier))
    outcomes: Counter[str] = Counter()
    try:
        while not worker.stop.is_set():
            try:
                job = claim(worker.con, worker.settings, worker.worker_id, clock())
            except TRANSIENT_ERRORS as exc:  # a busy store, or a PostgreSQL server restarting
                _log.warning("claiming a job failed (%s); retrying in %.1f s", exc, poll_s)
                worker.reconnect()
                worker.stop.wait(poll_s)
                continue
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
