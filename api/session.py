"""Reading one user's session for a request: what was served to them within
`served_window_hours` (the store's history and what this process served but has not written
yet), as rows of the view, oldest served first. And loading the batch's precomputed pages."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from api.history import HistoryWriter
from ranking.session import Session
from ranking.snapshot.view import View
from reelrank.control import history
from reelrank.control.connection import Connection, stamp
from reelrank.settings import Settings

__all__ = ["SessionReader", "stored_feeds"]

log = logging.getLogger(__name__)


class SessionReader:
    def __init__(self, settings: Settings, writer: HistoryWriter | None) -> None:
        self.window = timedelta(hours=settings.served_window_hours)
        self.writer = writer

    def read(self, con: Connection, user: object, view: View, now: datetime) -> Session:
        since = now - self.window
        served = dict(history.served_since(con, user, since))
        cutoff = stamp(since)
        pending = self.writer.pending(user) if self.writer is not None else {}
        for item, at in pending.items():
            if at >= cutoff and at > served.get(item, ""):
                served[item] = at
        ordered = sorted(served, key=lambda i: (served[i], str(i)))
        rows = np.array([view.row_of(i) for i in ordered], dtype=np.int64)
        return Session(served=rows[rows >= 0])


def stored_feeds(feeds_dir: Path | None, snapshot: str
                 ) -> tuple[dict[object, tuple[int, int]], pl.DataFrame | None]:
    """The batch's pages for `snapshot` (user -> row span in the frame), if it wrote any."""
    if feeds_dir is None or _manifest_snapshot(feeds_dir) != snapshot:
        return {}, None
    feeds = pl.read_parquet(feeds_dir / "part-*.parquet").sort("user_id", "position")
    starts = feeds.with_row_index("n").group_by("user_id", maintain_order=True).agg(
        pl.col("n").min().alias("start"), pl.len().alias("n"))
    return {u: (int(s), int(s + n)) for u, s, n in starts.iter_rows()}, feeds


def _manifest_snapshot(feeds_dir: Path) -> str | None:
    try:
        return json.loads((feeds_dir / "manifest.json").read_text()).get("snapshot")
    except (OSError, ValueError):
        return None
