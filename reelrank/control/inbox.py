"""The event inbox: engagement events the API accepted, durable before they are acknowledged,
until a drain lands them for the next pipeline run (`reelrank.inbox.drain_inbox` writes the
landing batch; these are its reads and marks).

An event is keyed by (user_id, event_id): an id is its user's own, so one user's id can
never shadow another's. Accepting writes a whole batch in one transaction (the store runs
with `synchronous=FULL`, so a commit survives a crash): a (user, id) already held with the
same content is a duplicate (not stored twice), with other content a `ConflictError` naming
the event, and then nothing of the batch is stored. Content is compared by digest
(`reelrank.event_keys.payload_digest`: item, type, time, watch time; not the IP).

Besides the payload (the line the landing batch gets), a row keeps the event's user, item,
type and time as columns, indexed by (user_id, seq), for reading one user's recent events.
Once drained, a row keeps its key (so a re-sent event is still recognised) but loses its raw
IP, which only ingestion needs; it is forgotten `inbox_keep_days` after.

SQLite-specific: `json_remove(payload, '$.ip')` in `mark_drained` (the PostgreSQL adapter
spells it `payload::jsonb - 'ip'`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import (
    Connection,
    chunks,
    rows_as_dicts,
    stamp,
    transaction,
)
from reelrank.errors import ConflictError
from reelrank.event_keys import payload_digest, ts_text

__all__ = ["accept_events", "events_after", "events_of", "mark_drained", "prune_drained",
           "recent_events", "undrained"]

_INSERT = ("INSERT INTO event_inbox (user_id, event_id, item_id, event_type, ts, digest, "
           "payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (user_id, event_id) DO NOTHING")


def _held(con: Connection, keys: Sequence[tuple[object, str]]) -> dict[tuple[object, str],
                                                                     int | None]:
    """{(user, event id): digest} of the keys the inbox holds already."""
    out: dict[tuple[object, str], int | None] = {}
    for part in chunks(sorted(set(keys), key=repr)):
        values = ", ".join("(?, ?)" for _ in part)
        flat = [v for key in part for v in key]
        # A join from the keys, so each is one lookup in the (user_id, event_id) index (a
        # row-value IN list makes SQLite scan the table).
        out.update(((u, e), d) for u, e, d in con.execute(
            f"WITH k (user_id, event_id) AS (VALUES {values}) "
            "SELECT i.user_id, i.event_id, i.digest FROM k JOIN event_inbox i "
            "ON i.user_id = k.user_id AND i.event_id = k.event_id", flat).fetchall())
    return out


def accept_events(con: Connection, events: Sequence[dict[str, object]], *,
                  now: datetime) -> tuple[int, int]:
    """Write `events` (contract-shaped dicts) in one transaction; (new, duplicates).
    `ConflictError` when one reuses a (user, id) the inbox holds with other content."""
    received = stamp(now)
    # The id is keyed by its text: a landing file carries no types, so 7 and "7" are one
    # event. The user id is typed as the home types it (the API's `IdCodec`).
    rows = [(e["user_id"], str(e["event_id"]), e.get("item_id"), e.get("event_type"),
             ts_text(e.get("ts")), payload_digest(e), json.dumps(e, separators=(",", ":")),
             received) for e in events]
    if not rows:
        return 0, 0
    with transaction(con):
        held = _held(con, [(r[0], r[1]) for r in rows])
        for n, row in enumerate(rows):
            digest = held.get((row[0], row[1]), row[5])
            if digest is not None and digest != row[5]:
                raise ConflictError(
                    f"events[{n}]: event_id {row[1]!r} of user {row[0]!r} was accepted "
                    "before with other content; an event id names one event of its user "
                    "for good, so nothing in this batch was stored")
        new = con.executemany(_INSERT, rows).rowcount
    return new, len(rows) - new


def undrained(con: Connection) -> list[tuple[int, str]]:
    """(seq, payload) of every event not drained yet, oldest first."""
    return [(int(seq), payload) for seq, payload in con.execute(
        "SELECT seq, payload FROM event_inbox WHERE drained_at IS NULL ORDER BY seq"
    ).fetchall()]


def events_of(con: Connection, user: object) -> list[dict[str, object]]:
    """Every event of `user` the inbox holds, oldest first, with its payload as stored
    (the IP still in it until drained)."""
    rows = rows_as_dicts(con.execute(
        "SELECT seq, event_id, item_id, event_type, ts, payload, received_at, drained_at "
        "FROM event_inbox WHERE user_id = ? ORDER BY seq", [user]))
    for row in rows:
        row["payload"] = json.loads(str(row["payload"]))
    return rows


def recent_events(con: Connection, user: object, since: datetime
                  ) -> list[tuple[object, str, str]]:
    """(item_id, event_type, ts) of `user`'s events that happened at or after `since`,
    drained or not, in the order they happened (ties: as received). The live feed's read of
    what the person did since the snapshot: one range of the (user_id, seq) index."""
    return [(item, kind, ts) for item, kind, ts in con.execute(
        "SELECT item_id, event_type, ts FROM event_inbox WHERE user_id = ? AND ts >= ? "
        "AND item_id IS NOT NULL ORDER BY ts, seq", [user, stamp(since)]).fetchall()]


def events_after(con: Connection, after_seq: int, limit: int = 10_000
                 ) -> list[tuple[int, object, object, str, str, str]]:
    """(seq, user_id, item_id, event_type, ts, received_at) of every event after
    `after_seq`, oldest first, at most `limit`: what the live item statistics and the
    report tally poll, from the last seq they saw (a range of the primary key)."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return [(int(seq), user, item, kind, ts, at) for seq, user, item, kind, ts, at in
            con.execute("SELECT seq, user_id, item_id, event_type, ts, received_at "
                        "FROM event_inbox WHERE seq > ? AND item_id IS NOT NULL "
                        "ORDER BY seq LIMIT ?", [after_seq, limit]).fetchall()]


def mark_drained(con: Connection, first: int, last: int, *, now: datetime) -> int:
    """Mark the undrained events with seq in [first, last] drained, dropping their IP;
    returns how many."""
    with transaction(con):
        return con.execute(
            "UPDATE event_inbox SET drained_at = ?, payload = json_remove(payload, '$.ip') "
            "WHERE seq BETWEEN ? AND ? AND drained_at IS NULL",
            [stamp(now), first, last]).rowcount


def prune_drained(con: Connection, before: datetime) -> int:
    """Forget events drained before `before`: kept that long so that a client's retry is
    answered as a duplicate; after that the warehouse's exported keys answer for them
    (`reelrank.event_keys`), and ingest, which keys events by (user, id), loads one once."""
    with transaction(con):
        return con.execute("DELETE FROM event_inbox WHERE drained_at IS NOT NULL "
                           "AND drained_at < ?", [stamp(before)]).rowcount
