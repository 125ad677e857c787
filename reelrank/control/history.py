"""Served history: every item a feed request returned, to whom, when, in which request and at
which position. The live feed reads a user's recent history so that no item is served again
within `served_window_hours`; experiments (and "where my likeness is used") read it too.

Rows are written in batches by the API's history writer (`api.history`), on a connection of
its own; reads take the recent rows of one user through the (user_id, served_at) index.
Times are `stamp` text, so text order is time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import Connection, chunks, marks, stamp

__all__ = ["ServedRow", "prune", "record", "served_counts", "served_since"]

# (user_id, item_id, served_at, request_id, position)
ServedRow = tuple[object, object, str, str, int]


def record(con: Connection, rows: Sequence[ServedRow]) -> int:
    """Add `rows` (call inside a transaction to write a batch at once); a row already
    recorded (same request and position) is not recorded twice."""
    before = con.total_changes
    con.executemany(
        "INSERT INTO served_history (user_id, item_id, served_at, request_id, position) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id, position) DO NOTHING", rows)
    return con.total_changes - before


def served_since(con: Connection, user: object, since: datetime
                 ) -> list[tuple[object, str]]:
    """(item_id, last served_at) of every item served to `user` since `since`, oldest
    last-served first."""
    return [tuple(r) for r in con.execute(
        "SELECT item_id, max(served_at) AS at FROM served_history "
        "WHERE user_id = ? AND served_at >= ? GROUP BY item_id ORDER BY at, item_id",
        [user, stamp(since)]).fetchall()]


def served_counts(con: Connection, items: Sequence[object], since: datetime
                  ) -> dict[object, int]:
    """How many times each of `items` was served since `since` (to anyone); items never
    served are absent. Indexed by (item_id, served_at)."""
    out: dict[object, int] = {}
    for part in chunks(list(dict.fromkeys(items))):
        out.update(con.execute(
            f"SELECT item_id, count(*) FROM served_history WHERE item_id IN ({marks(part)}) "
            "AND served_at >= ? GROUP BY item_id", [*part, stamp(since)]).fetchall())
    return out


def prune(con: Connection, before: datetime) -> int:
    """Forget what was served before `before`; returns the rows removed."""
    return con.execute("DELETE FROM served_history WHERE served_at < ?",
                       [stamp(before)]).rowcount
