"""A user's own controls over their feed: steering in their own words, muted words and topics,
and "see fewer like this" on an item. Read for every ranking by `ranking.policy.read_live`
(with the user's other live state) and written by the API's /v1/me routes.

- steering: one text per user, the directions parsed from it (JSON: kind, phrase, weight,
  topic) and their phrases' embeddings (`dim` float32 values each, in direction order) with
  the id of the model that made them;
- mutes: (kind, value) rows, kind `word` (matched in captions and prompts) or `topic`;
- see fewer: an item, its topic and creator as resolved when it was asked, and until when
  they are demoted (rows past `until` are not read, and are deleted when the user adds one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import Connection, chunks, marks, rows_as_dicts, stamp
from reelrank.errors import NotFoundError

__all__ = [
    "MUTE_KINDS", "add_mutes", "add_see_fewer", "clear_steering", "controls_of", "list_mutes",
    "list_see_fewer", "read_steering", "remove_mute", "set_steering",
]

MUTE_KINDS = ("word", "topic")


def set_steering(con: Connection, user: object, text: str, directions: list[dict],
                 model_id: str, dim: int, vectors: bytes, *, now: datetime) -> None:
    """Replace the user's steering."""
    con.execute(
        "INSERT INTO user_steering (user_id, text, directions, model_id, dim, vectors, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "text = excluded.text, directions = excluded.directions, model_id = excluded.model_id,"
        " dim = excluded.dim, vectors = excluded.vectors, updated_at = excluded.updated_at",
        [user, text, json.dumps(directions), model_id, int(dim), vectors, stamp(now)])


def read_steering(con: Connection, user: object) -> dict[str, object] | None:
    return _steering(con, [user]).get(user)


def clear_steering(con: Connection, user: object) -> None:
    """Remove the user's steering (`NotFoundError` when there is none)."""
    if con.execute("DELETE FROM user_steering WHERE user_id = ?", [user]).rowcount != 1:
        raise NotFoundError(f"{user} has no steering set")


def _steering(con: Connection, users: Sequence[object]) -> dict[object, dict[str, object]]:
    out: dict[object, dict[str, object]] = {}
    for part in chunks(users):
        for row in rows_as_dicts(con.execute(
                "SELECT user_id, text, directions, model_id, dim, vectors, updated_at "
                f"FROM user_steering WHERE user_id IN ({marks(part)})", part)):
            row["directions"] = json.loads(row["directions"])
            out[row["user_id"]] = row
    return out


def add_mutes(con: Connection, user: object, kind: str, values: Sequence[str], *,
              now: datetime) -> None:
    """Mute `values` of `kind`; muting again keeps the first time."""
    if kind not in MUTE_KINDS:
        raise ValueError(f"kind must be one of {MUTE_KINDS}, got {kind!r}")
    for value in values:
        con.execute("INSERT INTO user_mutes (user_id, kind, value, created_at) VALUES "
                    "(?, ?, ?, ?) ON CONFLICT (user_id, kind, value) DO NOTHING",
                    [user, kind, value, stamp(now)])


def remove_mute(con: Connection, user: object, kind: str, value: str) -> None:
    """Unmute (`NotFoundError` when it is not muted)."""
    if con.execute("DELETE FROM user_mutes WHERE user_id = ? AND kind = ? AND value = ?",
                   [user, kind, value]).rowcount != 1:
        raise NotFoundError(f"{user} has not muted the {kind} {value!r}")


def list_mutes(con: Connection, user: object) -> list[dict[str, object]]:
    return rows_as_dicts(con.execute(
        "SELECT kind, value, created_at FROM user_mutes WHERE user_id = ? "
        "ORDER BY kind, created_at, value", [user]))


def add_see_fewer(con: Connection, user: object, item: object, topic: str | None,
                  creator: object, *, now: datetime, until: datetime) -> dict[str, object]:
    """Demote `item`'s topic and creator for `user` until `until` (asking again for the
    same item starts the time again); the user's expired rows go."""
    con.execute("DELETE FROM user_see_fewer WHERE user_id = ? AND until <= ?",
                [user, stamp(now)])
    con.execute(
        "INSERT INTO user_see_fewer (user_id, item_id, topic, creator_id, created_at, until) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, item_id) DO UPDATE SET "
        "topic = excluded.topic, creator_id = excluded.creator_id, "
        "created_at = excluded.created_at, until = excluded.until",
        [user, item, topic, creator, stamp(now), stamp(until)])
    return list_see_fewer(con, user, now, item=item)[0]


def list_see_fewer(con: Connection, user: object, now: datetime, *, item: object = None
                   ) -> list[dict[str, object]]:
    """The user's see-fewer rows still in force (or just `item`'s)."""
    extra, params = ("AND item_id = ?", [item]) if item is not None else ("", [])
    return rows_as_dicts(con.execute(
        "SELECT item_id, topic, creator_id, created_at, until FROM user_see_fewer "
        f"WHERE user_id = ? AND until > ? {extra} ORDER BY created_at, item_id",
        [user, stamp(now), *params]))


def controls_of(con: Connection, users: Sequence[object], now: datetime
                ) -> dict[object, dict[str, object]]:
    """Each of `users` who has any control: {"steering": row or None, "words": [...],
    "topics": [...], "fewer": [(topic, creator_id), ...]} (three indexed reads per part)."""
    users = list(users)
    out: dict[object, dict[str, object]] = {}

    def entry(user: object) -> dict[str, object]:
        return out.setdefault(user, {"steering": None, "words": [], "topics": [],
                                     "fewer": []})

    for user, row in _steering(con, users).items():
        entry(user)["steering"] = row
    for part in chunks(users):
        for user, kind, value in con.execute(
                f"SELECT user_id, kind, value FROM user_mutes WHERE user_id IN ({marks(part)}) "
                "ORDER BY user_id, kind, value", part).fetchall():
            entry(user)["words" if kind == "word" else "topics"].append(value)
        for user, topic, creator in con.execute(
                "SELECT user_id, topic, creator_id FROM user_see_fewer "
                f"WHERE user_id IN ({marks(part)}) AND until > ? ORDER BY user_id, created_at",
                [*part, stamp(now)]).fetchall():
            entry(user)["fewer"].append((topic, creator))
    return out
