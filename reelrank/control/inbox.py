"""The event inbox: engagement events the API accepted, durable before they are acknowledged,
until a drain lands them for the next pipeline run (`reelrank.inbox.drain_inbox` writes the
landing batch; these are its reads and marks).

Accepting writes a whole batch in one transaction (the store runs with `synchronous=FULL`, so
a commit survives a crash), idempotent on `event_id`. Once drained, a row keeps its id (so a
re-sent event is still recognised as a duplicate) but loses its raw IP, which only ingestion
needs.

SQLite-specific: `json_remove(payload, '$.ip')` in `mark_drained` (PostgreSQL: `payload::jsonb
- 'ip'`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import Connection, stamp, transaction

__all__ = ["accept_events", "mark_drained", "prune_drained", "undrained"]


def accept_events(con: Connection, events: Sequence[dict[str, object]], *,
                  now: datetime) -> tuple[int, int]:
    """Write `events` (contract-shaped dicts) in one transaction; (new, duplicates)."""
    received = stamp(now)
    # Keyed by the id's text: a landing file carries no types, so 7 and "7" are one event.
    rows = [(str(e["event_id"]), json.dumps(e, separators=(",", ":")), received) for e in events]
    with transaction(con):
        new = con.executemany(
            "INSERT INTO event_inbox (event_id, payload, received_at) VALUES (?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING", rows).rowcount if rows else 0
    return new, len(rows) - new


def undrained(con: Connection) -> list[tuple[int, str]]:
    """(seq, payload) of every event not drained yet, oldest first."""
    return [(int(seq), payload) for seq, payload in con.execute(
        "SELECT seq, payload FROM event_inbox WHERE drained_at IS NULL ORDER BY seq"
    ).fetchall()]


def mark_drained(con: Connection, first: int, last: int, *, now: datetime) -> int:
    """Mark the undrained events with seq in [first, last] drained, dropping their IP;
    returns how many."""
    with transaction(con):
        return con.execute(
            "UPDATE event_inbox SET drained_at = ?, payload = json_remove(payload, '$.ip') "
            "WHERE seq BETWEEN ? AND ? AND drained_at IS NULL",
            [stamp(now), first, last]).rowcount


def prune_drained(con: Connection, before: datetime) -> int:
    """Forget events drained before `before`: kept that long only so a client's retry is
    answered as a duplicate; an event re-sent later is accepted again, and ingest, which
    keys events by id, still loads it once."""
    with transaction(con):
        return con.execute("DELETE FROM event_inbox WHERE drained_at IS NOT NULL "
                           "AND drained_at < ?", [stamp(before)]).rowcount
