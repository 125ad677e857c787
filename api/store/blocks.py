"""Whom a user has blocked: their videos leave the user's feed and their messages are
refused (both decided in `ranking.policy`, which reads these rows)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from api.store import rows_as_dicts
from reelrank.tokens import stamp

__all__ = ["block", "list_blocks", "unblock"]


def block(control: sqlite3.Connection, user: object, blocked: object, *, now: datetime
          ) -> dict[str, object]:
    control.execute("INSERT OR IGNORE INTO user_blocks (user_id, blocked_id, created_at) "
                    "VALUES (?, ?, ?)", [user, blocked, stamp(now)])
    return rows_as_dicts(control.execute(
        "SELECT user_id, blocked_id, created_at FROM user_blocks "
        "WHERE user_id = ? AND blocked_id = ?", [user, blocked]))[0]


def unblock(control: sqlite3.Connection, user: object, blocked: object) -> bool:
    return control.execute("DELETE FROM user_blocks WHERE user_id = ? AND blocked_id = ?",
                           [user, blocked]).rowcount > 0


def list_blocks(control: sqlite3.Connection, user: object) -> list[dict[str, object]]:
    return rows_as_dicts(control.execute(
        "SELECT user_id, blocked_id, created_at FROM user_blocks WHERE user_id = ? "
        "ORDER BY created_at, blocked_id", [user]))
