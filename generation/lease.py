"""Keeping a claimed job's lease alive while it renders, from a background thread.

A render may take far longer than one lease (a real video model: minutes), and the backend
should not have to know about leases, so a thread renews every third of the lease on its own
connection. If a renewal finds the job is no longer this worker's (it stalled past its lease
and another worker claimed the job), `lost` is set, which the backend sees through
`should_stop`; the conditional completion would refuse its result anyway.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Self

from generation._common import Clock
from generation.queue import Job, renew
from reelrank.control.connection import TRANSIENT_ERRORS, Connection
from reelrank.settings import Settings

__all__ = ["LeaseKeeper"]

_log = logging.getLogger(__name__)


class LeaseKeeper:
    """Context manager: renews `job`'s lease until exit or until the lease is lost."""

    def __init__(self, con: Connection, settings: Settings, job: Job, clock: Clock
                 ) -> None:
        """`con` is used only from the keeper's thread, and only until exit: a worker keeps one
        for all its keepers, as they run one at a time."""
        self.lost = threading.Event()
        self._con, self._settings, self._job, self._clock = con, settings, job, clock
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.request_id}",
                                        daemon=True)

    def _run(self) -> None:
        interval = self._settings.generation_lease_s / 3
        while not self._done.wait(interval):
            try:
                still_ours = renew(self._con, self._settings, self._job, self._clock())
            except TRANSIENT_ERRORS as exc:
                # A busy or briefly unavailable store: try again next interval; if the lease
                # runs out meanwhile, the conditional completion protects the job.
                _log.warning("lease renewal for %s failed: %s", self._job.request_id, exc)
                continue
            if not still_ours:
                _log.warning("lease on %s lost to another worker", self._job.request_id)
                self.lost.set()
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()
