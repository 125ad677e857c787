"""Draining the API's durable queues into landing batches for the next pipeline run.

The event inbox (accepting, reading, marking) is `reelrank.control.inbox`; sign-ups are
`reelrank.control.accounts`. Draining writes the undrained rows as
`HOME/landing/inbox-<first seq>-<last seq>/events.jsonl` (sign-ups:
`accounts-<first>-<last>/users.jsonl`, which sorts before every other batch, so a new user is
in the warehouse before their generations and events), fsynced, then the directory renamed
into place, and only then marks them drained; a crash in between leaves rows that are
drained again, which is harmless because ingest ignores a record it already holds.

Once marked, the store's write-ahead log is folded in and truncated (`compact`), so the IPs
the drain just removed from the inbox are gone from the log's old frames too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock

from reelrank.control import accounts
from reelrank.control.connection import compact
from reelrank.control.grants import CHANGES_KEEP_S, prune_changes
from reelrank.control.inbox import mark_drained, prune_drained, undrained
from reelrank.home import DataHome

__all__ = ["drain_accounts", "drain_inbox"]


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


def _land(landing: Path, name: str, file: str, lines: Iterable[str]) -> Path:
    """`landing/<name>/<file>` with `lines`, fsynced and renamed into place; a batch already
    there for this exact range holds the same lines (rows are immutable)."""
    target = landing / name
    if not target.exists():
        tmp = landing / f".{target.name}.tmp"
        tmp.mkdir(exist_ok=True)
        with (tmp / file).open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync(tmp)
        tmp.rename(target)
        _fsync(landing)
    return target


def _drain(home: DataHome, now: datetime) -> Path | None:
    control = home.control()
    try:
        prune_drained(control, now - timedelta(days=home.settings.inbox_keep_days))
        prune_changes(control, now - timedelta(seconds=CHANGES_KEEP_S))
        rows = undrained(control)
        if not rows:
            return None
        first, last = rows[0][0], rows[-1][0]
        target = _land(home.dir("landing"), f"inbox-{first:012d}-{last:012d}",
                       "events.jsonl", (payload for _seq, payload in rows))
        mark_drained(control, first, last, now=now)
        compact(control)  # a reader may hold it up: then the next drain finishes it
        return target
    finally:
        control.close()


def _user_line(row: dict[str, object]) -> str:
    """A sign-up as a `users` record (absent optional fields left out)."""
    return json.dumps({k: v for k, v in row.items() if k != "seq" and v is not None},
                      separators=(",", ":"))


def drain_accounts(home: DataHome, *, now: datetime | None = None) -> Path | None:
    """Land every undrained sign-up as a `users` batch; its path, or None when there is
    none. Sign-ups landed more than `inbox_keep_days` ago are forgotten first."""
    moment = now or datetime.now(UTC)
    with FileLock(str(home.dir("landing") / ".inbox.lock"), timeout=600):
        control = home.control()
        try:
            accounts.prune_drained(control,
                                   moment - timedelta(days=home.settings.inbox_keep_days))
            rows = accounts.undrained(control)
            if not rows:
                return None
            first, last = int(rows[0]["seq"]), int(rows[-1]["seq"])
            target = _land(home.dir("landing"), f"accounts-{first:012d}-{last:012d}",
                           "users.jsonl", (_user_line(r) for r in rows))
            accounts.mark_drained(control, first, last, now=moment)
            return target
        finally:
            control.close()
