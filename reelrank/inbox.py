"""The event inbox: engagement events the API accepted, durable before they are acknowledged,
drained into a landing batch for the next pipeline run.

Accepting writes a whole batch in one transaction (the control store runs with
`synchronous=FULL`, so a commit survives a crash), idempotent on `event_id`. Draining
writes the undrained rows as `HOME/landing/inbox-<first seq>-<last seq>/events.jsonl`
(fsynced, then the directory renamed into place) and only then marks them drained; a crash
in between leaves rows that are drained again, which is harmless because ingest ignores an
event id it already holds. Once drained, a row keeps its id (so a re-sent event is still
recognised as a duplicate) but loses its raw IP, which only ingestion needs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock

from reelrank.home import DataHome
from reelrank.tokens import stamp

__all__ = ["accept_events", "drain_inbox"]


def accept_events(control: sqlite3.Connection, events: Sequence[dict[str, object]], *,
                  now: datetime) -> tuple[int, int]:
    """Write `events` (contract-shaped dicts) in one transaction; (new, duplicates)."""
    received = stamp(now)
    # Keyed by the id's text: a landing file carries no types, so 7 and "7" are one event.
    rows = [(str(e["event_id"]), json.dumps(e, separators=(",", ":")), received) for e in events]
    control.execute("BEGIN IMMEDIATE")
    try:
        before = control.total_changes
        control.executemany(
            "INSERT OR IGNORE INTO event_inbox (event_id, payload, received_at) VALUES (?, ?, ?)",
            rows)
        new = control.total_changes - before
    except BaseException:
        control.execute("ROLLBACK")
        raise
    control.execute("COMMIT")
    return new, len(rows) - new


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(control: sqlite3.Connection, before: datetime) -> int:
    """Forget events drained before `before`: kept that long only so a client's retry is
    answered as a duplicate; an event re-sent later is accepted again, and ingest, which
    keys events by id, still loads it once."""
    control.execute("BEGIN IMMEDIATE")
    try:
        gone = control.execute("DELETE FROM event_inbox WHERE drained_at IS NOT NULL "
                               "AND drained_at < ?", [stamp(before)]).rowcount
    except BaseException:
        control.execute("ROLLBACK")
        raise
    control.execute("COMMIT")
    return gone


def drain_inbox(home: DataHome, *, now: datetime | None = None) -> Path | None:
    """Move every undrained inbox event into a new landing batch; its path, or None when
    the inbox holds nothing new. One drain at a time per home (a file lock)."""
    with FileLock(str(home.dir("landing") / ".inbox.lock"), timeout=600):
        return _drain(home, now or datetime.now(UTC))


def _drain(home: DataHome, now: datetime) -> Path | None:
    control = home.control()
    try:
        _prune(control, (now or datetime.now(UTC)) - timedelta(
            days=home.settings.inbox_keep_days))
        rows = control.execute(
            "SELECT seq, payload FROM event_inbox WHERE drained_at IS NULL ORDER BY seq"
        ).fetchall()
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
        control.execute("BEGIN IMMEDIATE")
        try:
            control.execute(
                "UPDATE event_inbox SET drained_at = ?, payload = json_remove(payload, '$.ip') "
                "WHERE seq BETWEEN ? AND ? AND drained_at IS NULL",
                [stamp(now), first, last])
        except BaseException:
            control.execute("ROLLBACK")
            raise
        control.execute("COMMIT")
        return target
    finally:
        control.close()
