"""The served-history writer: every page a request returns is queued here and written to the
control store by one background thread, in batches (group commit), so recording history
costs a request a queue append rather than a commit.

The writer's connection runs with `synchronous=NORMAL`: in WAL mode a commit then survives
the process being killed (the OS holds it), though not the machine losing power; the next
FULL commit of any connection (an event, a grant) makes it durable too. Rows still in the
queue when the process dies (at most `history_flush_ms` of them) are lost: history is what
keeps pages fresh, not a ledger. `stop` writes what is queued.

The thread also keeps, per user, what this process served but the store may not hold yet,
so the very next request of the same user excludes it whichever happens first.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from reelrank.control import experiments, history
from reelrank.control.connection import TRANSIENT_ERRORS, transaction
from reelrank.control.grants import CHANGES_KEEP_S, prune_changes
from reelrank.home import DataHome

__all__ = ["HistoryWriter"]

log = logging.getLogger(__name__)

_RECENT_USERS = 50_000  # users whose unflushed rows this process remembers
_PRUNE_EVERY_S = 3600.0
_Batch = tuple[list[history.ServedRow], list[experiments.ExposureRow]]


class HistoryWriter:
    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.flush_s = home.settings.history_flush_ms / 1000.0
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._recent: OrderedDict[object, dict[object, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="served-history", daemon=True)
        self._pruned_s = 0.0

    def start(self) -> None:
        self._thread.start()

    def add(self, rows: list[history.ServedRow],
            exposures: list[experiments.ExposureRow] | None = None) -> None:
        """Queue `rows` (and the `exposures` of an experiment that served them)."""
        if not rows:
            return
        with self._lock:
            for user, item, at, _request, _position in rows:
                mine = self._recent.setdefault(user, {})
                mine[item] = at
                self._recent.move_to_end(user)
            while len(self._recent) > _RECENT_USERS:
                self._recent.popitem(last=False)
        self._queue.put((rows, exposures or []))

    def pending(self, user: object) -> dict[object, str]:
        """item -> served_at of what this process served `user` lately."""
        with self._lock:
            return dict(self._recent.get(user, {}))

    def _run(self) -> None:
        con = self.home.control()
        con.execute("PRAGMA synchronous=NORMAL")
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                batch, shown = list(first[0]), list(first[1])
                time.sleep(self.flush_s)  # gather what arrives meanwhile: one commit for all
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch += more[0]
                    shown += more[1]
                self._write(con, batch, shown)
                if time.monotonic() - self._pruned_s > _PRUNE_EVERY_S:
                    self._prune(con)
        finally:
            con.close()

    def _write(self, con, batch: list[history.ServedRow],
               shown: list[experiments.ExposureRow]) -> None:
        for attempt in range(3):
            try:
                with transaction(con):
                    history.record(con, batch)
                    if shown:
                        experiments.record_exposures(con, shown)
                return
            except TRANSIENT_ERRORS as exc:  # the store was busy: try again, then give up
                log.warning("served history: write failed (attempt %d): %s", attempt + 1, exc)
        log.error("served history: dropped %d rows after 3 attempts", len(batch))

    def _prune(self, con) -> None:
        """Forget history older than `served_keep_days`, and grant changes older than the
        grant caches may need (at most once an hour)."""
        self._pruned_s = time.monotonic()
        keep = timedelta(days=self.home.settings.served_keep_days)
        now = datetime.now(UTC)
        try:
            with transaction(con):
                history.prune(con, now - keep)
                prune_changes(con, now - timedelta(seconds=CHANGES_KEEP_S))
        except TRANSIENT_ERRORS as exc:
            log.warning("served history: pruning failed: %s", exc)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
