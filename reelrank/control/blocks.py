"""Whom a user has blocked: their videos leave the user's feed and their messages are
refused (both decided in `ranking.policy`, which reads these rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from reelrank.control.connection import Connection, chunks, marks, rows_as_dicts, stamp
from reelrank.control.erasure import hidden
from reelrank.errors import NotFoundError

__all__ = ["block", "blocked_by", "blocks_between", "has_blocked", "list_blocks", "unblock"]


def block(con: Connection, user: object, blocked: object, *, now: datetime
          ) -> dict[str, object]:
    """Block `blocked` for `user`; blocking again keeps the first block's time."""
    con.execute("INSERT INTO user_blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, blocked_id) DO NOTHING", [user, blocked, stamp(now)])
    return rows_as_dicts(con.execute(
        "SELECT user_id, blocked_id, created_at FROM user_blocks "
        "WHERE user_id = ? AND blocked_id = ?", [user, blocked]))[0]


def unblock(con: Connection, user: object, blocked: object) -> None:
    """Lift a block (`NotFoundError` when `user` has not blocked `blocked`)."""
    if con.execute("DELETE FROM user_blocks WHERE user_id = ? AND blocked_id = ?",
                   [user, blocked]).rowcount != 1:
        raise NotFoundError(f"{user} has not blocked {blocked}")


def list_blocks(con: Connection, user: object) -> list[dict[str, object]]:
    return rows_as_dicts(con.execute(
        "SELECT user_id, blocked_id, created_at FROM user_blocks WHERE user_id = ? "
        "ORDER BY created_at, blocked_id", [user]))


def has_blocked(con: Connection, user: object, other: object) -> bool:
    return con.execute("SELECT 1 FROM user_blocks WHERE user_id = ? AND blocked_id = ?",
                       [user, other]).fetchone() is not None


def blocks_between(con: Connection, a: object, b: object) -> set[tuple[object, object]]:
    """The blocks between two users, either way: (user, blocked) pairs, in one statement."""
    return {tuple(r) for r in con.execute(
        "SELECT user_id, blocked_id FROM user_blocks WHERE (user_id = ? AND blocked_id = ?) "
        "OR (user_id = ? AND blocked_id = ?)", [a, b, b, a]).fetchall()}


def blocked_by(con: Connection, users: Sequence[object], *, now: datetime | None = None
               ) -> dict[object, set[object]]:
    """For each of `users` who may not be shown anyone's videos: whose. That is whom they
    blocked, and for everyone the users erased recently (`reelrank.control.erasure.hidden`):
    an erased user's videos leave every feed at once, before the next snapshot drops them.
    (The feed's policy reads blocks here; erased creators ride on the same filter rather
    than a filter of their own while `ranking/` is not this change's to edit.)"""
    out: dict[object, set[object]] = {}
    for part in chunks(users):
        for user, blocked in con.execute(
                f"SELECT user_id, blocked_id FROM user_blocks WHERE user_id IN ({marks(part)})",
                part).fetchall():
            out.setdefault(user, set()).add(blocked)
    gone = hidden(con, now or datetime.now(UTC))
    if gone:
        for user in users:
            out.setdefault(user, set()).update(gone)
    return out
