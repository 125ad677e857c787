"""Sign-ups: users registered through the API since the warehouse last heard of users.

The warehouse has one writer (the pipeline), so a new user cannot wait for it: `register`
makes them known at once (the API accepts their events and settings from the next request),
and the next pipeline run lands the undrained ones as a `users` landing batch
(`reelrank.inbox.drain_accounts`), ingested before the generations and events that name
them. A drained row is kept `inbox_keep_days` more, so that the user stays known to the API
until a published snapshot holds them.

Registering is idempotent: the same user again, stating nothing that differs from the
first sign-up, is no change (a field left out is not stated: a retry without `created_at`
is the same sign-up); stating other details is a `ConflictError` (a sign-up is not an
update). Timestamps are `stamp` text; `birth_year` and `country` are optional.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import (
    Connection,
    chunks,
    marks,
    rows_as_dicts,
    stamp,
    transaction,
)
from reelrank.errors import ConflictError

__all__ = ["mark_drained", "prune_drained", "register", "registered",
           "registered_among", "undrained"]

def registered(con: Connection, user: object) -> dict[str, object] | None:
    rows = rows_as_dicts(con.execute(
        "SELECT user_id, created_at, country, birth_year, registered_at, drained_at "
        "FROM registered_users WHERE user_id = ?", [user]))
    return rows[0] if rows else None


def register(con: Connection, user: object, *, created_at: datetime | None,
             country: str | None, birth_year: int | None, now: datetime
             ) -> tuple[dict[str, object], bool]:
    """Register `user` (`created_at` None: now); (the registration, whether it is new).
    `ConflictError` when the user is already registered with other details, or was erased
    (ids are not reused)."""
    stated = {"created_at": None if created_at is None else stamp(created_at),
              "country": country, "birth_year": birth_year}
    with transaction(con):
        if con.execute("SELECT 1 FROM erased_users WHERE user_id = ?",
                       [user]).fetchone() is not None:
            raise ConflictError(f"user {user!r} was erased; an erased id is not signed up "
                                "again")
        held = registered(con, user)
        if held is not None:
            if any(v is not None and held[f] != v for f, v in stated.items()):
                raise ConflictError(f"user {user!r} is already registered with other "
                                    "details; a sign-up does not change them")
            return held, False
        con.execute(
            "INSERT INTO registered_users (user_id, created_at, country, birth_year, "
            "registered_at) VALUES (?, ?, ?, ?, ?)",
            [user, stated["created_at"] or stamp(now), country, birth_year, stamp(now)])
        out = registered(con, user)
    assert out is not None
    return out, True


def registered_among(con: Connection, users: Sequence[object]) -> set[object]:
    """Which of `users` are registered here (drained or not)."""
    out: set[object] = set()
    for part in chunks(sorted(set(users), key=repr)):
        out.update(r[0] for r in con.execute(
            f"SELECT user_id FROM registered_users WHERE user_id IN ({marks(part)})",
            part).fetchall())
    return out


def undrained(con: Connection) -> list[dict[str, object]]:
    """Registrations not landed yet, oldest first, with their `seq`."""
    return rows_as_dicts(con.execute(
        "SELECT seq, user_id, created_at, country, birth_year FROM registered_users "
        "WHERE drained_at IS NULL ORDER BY seq"))


def mark_drained(con: Connection, first: int, last: int, *, now: datetime) -> int:
    with transaction(con):
        return con.execute(
            "UPDATE registered_users SET drained_at = ? WHERE seq BETWEEN ? AND ? "
            "AND drained_at IS NULL", [stamp(now), first, last]).rowcount


def prune_drained(con: Connection, before: datetime) -> int:
    """Forget registrations landed before `before` (the warehouse and, by then, the
    snapshot know those users)."""
    with transaction(con):
        return con.execute("DELETE FROM registered_users WHERE drained_at IS NOT NULL "
                           "AND drained_at < ?", [stamp(before)]).rowcount
