"""Draining the event inbox into a landing batch for the next pipeline run.

The inbox itself (accepting, reading, marking) is `reelrank.control.inbox`. Draining writes
the undrained rows as `HOME/landing/inbox-<first seq>-<last seq>/events.jsonl` (fsynced, then
the directory renamed into place) and only then marks them drained; a crash in between leaves
rows that are drained again, which is harmless because ingest ignores an event id it already
holds.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock

from reelrank.control.inbox import mark_drained, prune_drained, undrained
from reelrank.home import DataHome

__all__ = ["drain_inbox"]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def drain_inbox(home: DataHome, *, now: datetime | None = None) -> Path | None:
    """Move every undrained inbox event into a new landing batch; its path, or None when
    the inbox holds nothing new. One drain at a time per home (a file lock)."""
    with FileLock(str(home.dir("landing") / ".inbox.lock"), timeout=600):
        return _drain(home, now or datetime.now(UTC))


def _drain(home: DataHome, now: datetime) -> Path | None:
    control = home.control()
    try:
        prune_drained(control, now - timedelta(days=home.settings.inbox_keep_days))
        rows = undrained(control)
        if not rows:
            return None
        first, last = rows[0][0], rows[-1][0]
        landing = home.dir("landing")
        target = landing / f"inbox-{first:012d}-{last:012d}"
        # Rows are immutable, so a batch already renamed into place for this exact range
        # (a crash before it was marked) holds the same lines.
        if not target.exists():
            tmp = landing / f".{target.name}.tmp"
            tmp.mkdir(exist_ok=True)
            with (tmp / "events.jsonl").open("w", encoding="utf-8") as handle:
                for _seq, payload in rows:
                    handle.write(payload + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            _fsync(tmp)
            tmp.rename(target)
            _fsync(landing)
        mark_drained(control, first, last, now=now)
        return target
    finally:
        control.close()
