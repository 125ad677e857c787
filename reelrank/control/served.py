"""Daily served counters: how many items each supervised user was served on each UTC day,
which a guardian's scroll limit caps.

The claim itself (read the count and the limit, then add what may still be shown) is one
`transaction` in `ranking.policy.claim_served`, which does the arithmetic; these are its
statements. Days are ISO dates (`2026-05-01`).
"""

from __future__ import annotations

from collections.abc import Sequence

from reelrank.control.connection import Connection, chunks, marks

__all__ = ["add_served", "served_on", "served_today"]


def served_on(con: Connection, user: object, day: str) -> int:
    """Items `user` was served on `day` (0 when none)."""
    (served,) = con.execute(
        "SELECT coalesce((SELECT served FROM served_today WHERE user_id = ? AND day = ?), 0)",
        [user, day]).fetchone()
    return int(served)


def served_today(con: Connection, users: Sequence[object], day: str) -> dict[object, int]:
    """For each of `users` served anything on `day`: how many items."""
    out: dict[object, int] = {}
    for part in chunks(users):
        out.update((user, int(n)) for user, n in con.execute(
            f"SELECT user_id, served FROM served_today WHERE day = ? "
            f"AND user_id IN ({marks(part)})", [day, *part]).fetchall())
    return out


def add_served(con: Connection, user: object, day: str, count: int) -> None:
    """Count `count` more items served to `user` on `day`."""
    if count < 0:
        raise ValueError(f"a served count only grows, got {count}")
    con.execute(
        "INSERT INTO served_today (user_id, day, served) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id, day) DO UPDATE SET served = served_today.served + excluded.served",
        [user, day, count])
