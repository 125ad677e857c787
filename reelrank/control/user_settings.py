"""A user's own settings: chat-history personalization (off unless switched on)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import Connection, chunks, marks, stamp

__all__ = ["chat_of", "chat_opted_in", "read_settings", "set_chat_personalization"]


def read_settings(con: Connection, user: object) -> dict[str, object]:
    """The user's settings, and whether a guardian supervises them."""
    row = con.execute(
        "SELECT coalesce((SELECT chat_personalization FROM user_settings WHERE user_id = ?), 0),"
        " EXISTS (SELECT 1 FROM guardians WHERE child_id = ?)", [user, user]).fetchone()
    return {"user_id": user, "chat_personalization": bool(row[0]), "supervised": bool(row[1])}


def set_chat_personalization(con: Connection, user: object, on: bool, *, now: datetime
                             ) -> None:
    con.execute(
        "INSERT INTO user_settings (user_id, chat_personalization, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET chat_personalization = excluded.chat_personalization,"
        " updated_at = excluded.updated_at", [user, int(on), stamp(now)])


def chat_of(con: Connection, users: Sequence[object]) -> dict[object, bool]:
    """The chat setting of each of `users` who has a settings row."""
    out: dict[object, bool] = {}
    for part in chunks(users):
        out.update((user, bool(on)) for user, on in con.execute(
            f"SELECT user_id, chat_personalization FROM user_settings "
            f"WHERE user_id IN ({marks(part)})", part).fetchall())
    return out


def chat_opted_in(con: Connection) -> list[object]:
    """Users whose chat-history personalization is on right now (ids as stored)."""
    return [r[0] for r in con.execute(
        "SELECT user_id FROM user_settings WHERE chat_personalization = 1").fetchall()]
