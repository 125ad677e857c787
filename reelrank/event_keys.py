"""Which events the warehouse already holds, as the API can ask without opening it.

An event is identified by (user, event id): an id is its user's own. Re-sending an event
must be answered as a duplicate and reusing an id for other content as a conflict, whether
the first one is still in the API's inbox (`reelrank.control.inbox`, drained rows kept
`inbox_keep_days`) or long since in the warehouse (imported logs, events ingested weeks
ago). For the latter the ingest exports, after every run, `HOME/exports/event_keys.npy`: a
sorted array of 64-bit hashes of every (user, event id) the warehouse holds, up to
`event_keys_max` (the newest by event time), each with a 64-bit digest of its content
(`export_event_keys`). The API memory-maps it (`KnownEventsFile`): 16 bytes a key, looked up
by binary search for a whole batch at once.

Both hashes are BLAKE2b (8 bytes): stable across processes, versions and machines, unlike
Polars' or DuckDB's own `hash`. Two different (user, id) pairs with one hash would answer a
new event as a duplicate or a conflict: with 20M keys, about one posted event in 10^12.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

__all__ = ["KnownEvents", "KnownEventsFile", "event_digest", "event_key",
           "export_event_keys", "payload_digest", "ts_text"]

_SEP = "\x1f"
_CHUNK_ROWS = 1_000_000


def _h64(text: str) -> int:
    """A signed 64-bit hash (SQLite's INTEGER and NumPy's int64 both hold it)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little",
                          signed=True)


def event_key(user_id: object, event_id: object) -> int:
    """The hash of an event's identity: its user and its id, both as text (an untyped
    landing file cannot tell 7 from "7", so neither does this)."""
    return _h64(f"{user_id}{_SEP}{event_id}")


def event_digest(item_id: object, event_type: object, ts: str | None,
                 watch_ms: object) -> int:
    """The hash of what an event says: item, type, time (as `ts_text` writes it) and watch
    time. Not its IP: a resent event may come through another address, and the address is
    not kept anyway."""
    parts = ("" if v is None else str(v) for v in (item_id, event_type, ts, watch_ms))
    return _h64(_SEP.join(parts))


def ts_text(value: object) -> str | None:
    """An event time as fixed-width UTC text with microseconds and a `Z`
    (`2026-05-01T09:00:00.000000Z`, the control store's `stamp` form); None when `value` is
    not a time. The API's own form (`...+00:00`, microseconds) takes a shortcut."""
    if isinstance(value, str):
        if len(value) == 32 and value.endswith("+00:00") and value[19] == ".":
            return value[:26] + "Z"
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload_digest(payload: Mapping[str, object]) -> int:
    """`event_digest` of a contract-shaped event (the API's payload, a landing line)."""
    return event_digest(payload.get("item_id"), payload.get("event_type"),
                        ts_text(payload.get("ts")), payload.get("watch_ms"))


def export_event_keys(con: duckdb.DuckDBPyConnection, path: Path, *, limit: int) -> int:
    """Write the keys and digests of the warehouse's events (the newest `limit` by event
    time) to `path`, replacing it atomically; returns how many."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'events'").fetchall()[0][0]
    total = con.execute("SELECT count(*) FROM events").fetchall()[0][0] if exists else 0
    n = min(int(total), limit)
    keys = np.empty(n, dtype=np.int64)
    digests = np.empty(n, dtype=np.int64)
    if n:
        order = " ORDER BY ts DESC" if total > limit else ""
        reader = con.sql(
            "SELECT CAST(user_id AS VARCHAR), CAST(event_id AS VARCHAR), "
            "CAST(item_id AS VARCHAR), event_type, "
            "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), watch_ms "
            f"FROM events{order} LIMIT $n", params={"n": n}).to_arrow_reader(_CHUNK_ROWS)
        at = 0
        for batch in reader:
            users, ids, items, types, times, watched = (c.to_pylist() for c in batch.columns)
            size = len(users)
            keys[at:at + size] = np.fromiter(
                (event_key(u, e) for u, e in zip(users, ids, strict=True)), np.int64, size)
            digests[at:at + size] = np.fromiter(
                (event_digest(i, t, s, w)
                 for i, t, s, w in zip(items, types, times, watched, strict=True)),
                np.int64, size)
            at += size
        order_by_key = np.argsort(keys, kind="stable")
        keys, digests = keys[order_by_key], digests[order_by_key]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        np.save(handle, np.stack([keys, digests]))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return n


class KnownEvents:
    """Sorted key hashes and their digests (read-only arrays, usually memory-mapped)."""

    def __init__(self, keys: np.ndarray, digests: np.ndarray) -> None:
        self.keys, self.digests = keys, digests

    @classmethod
    def empty(cls) -> KnownEvents:
        none = np.empty(0, dtype=np.int64)
        return cls(none, none)

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(held, digest) for each of `keys`: whether the warehouse holds it, and what it
        holds under it (meaningful only where held)."""
        if not len(self.keys):
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[at] == keys, self.digests[at]


class KnownEventsFile:
    """The export at `path` as last written: reloaded (memory-mapped) when the file changes,
    checked at most every `every_s` seconds; empty while there is none."""

    def __init__(self, path: Path, every_s: float) -> None:
        self.path, self.every_s = path, every_s
        self._lock = threading.Lock()
        self._known = KnownEvents.empty()
        self._seen: tuple[int, int] | None = None
        self._checked = float("-inf")

    def current(self, monotonic: float) -> KnownEvents:
        if monotonic - self._checked < self.every_s:
            return self._known
        with self._lock:
            self._checked = monotonic
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._known, self._seen = KnownEvents.empty(), None
                return self._known
            if (stat.st_ino, stat.st_mtime_ns) != self._seen:
                both = np.load(self.path, mmap_mode="r")
                self._known = KnownEvents(both[0], both[1])
                self._seen = (stat.st_ino, stat.st_mtime_ns)
            return self._known
