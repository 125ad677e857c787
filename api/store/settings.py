"""A user's own settings: chat-history personalization."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from reelrank.tokens import stamp

__all__ = ["read_settings", "set_chat_personalization"]


def read_settings(control: sqlite3.Connection, user: object) -> dict[str, object]:
    row = control.execute(
        "SELECT coalesce((SELECT chat_personalization FROM user_settings WHERE user_id = ?), 0),"
        " EXISTS (SELECT 1 FROM guardians WHERE child_id = ?)", [user, user]).fetchone()
    return {"user_id": user, "chat_personalization": bool(row[0]), "supervised": bool(row[1])}


def set_chat_personalization(control: sqlite3.Connection, user: object, on: bool, *,
                             now: datetime) -> None:
    control.execute(
        "INSERT INTO user_settings (user_id, chat_personalization, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET chat_personalization = excluded.chat_personalization,"
        " updated_at = excluded.updated_at", [user, int(on), stamp(now)])
