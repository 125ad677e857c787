"""Helpers the generation tests share (no tests here): users and items a home knows.

A generation names a requester, cameos and maybe an item it remixes, and each must exist:
a user is known when the published snapshot holds them or the control store holds an
account for them (`reelrank.control.known`: a user token), an item when the snapshot or the
generated items hold it. Tests that only exercise the queue give their users accounts;
tests that remix a snapshot item publish the user and item tables of one, which is all of
a snapshot the worker reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from ranking.publish import point_latest
from reelrank.control.connection import Connection
from reelrank.control.tokens import create_token
from reelrank.home import DataHome

__all__ = ["ACCOUNTS", "publish_ids", "register"]

# Every user id the queue-only tests name.
ACCOUNTS = (*(f"u{n}" for n in range(10)), "a", "b", "c", "other", 1, 2)


def register(target: DataHome | Connection, *users: object) -> None:
    """Give each of `users` (default `ACCOUNTS`) an account: a user token."""
    con = target.control() if isinstance(target, DataHome) else target
    try:
        for user in users or ACCOUNTS:
            create_token(con, "user", user, now=datetime.now(UTC), label="test account")
    finally:
        if isinstance(target, DataHome):
            con.close()


def publish_ids(home: DataHome, users: list[str],
                items: Mapping[str, tuple[list[str], str]], name: str = "2026-03-01-ids"
                ) -> Path:
    """Publish a snapshot holding only its user and item tables (item id -> (cameo list,
    safety label)), as `snapshots/latest`."""
    root = home.dir("snapshots")
    target = root / name
    target.mkdir()
    pl.DataFrame({"user_id": users, "country": [None] * len(users)},
                 schema={"user_id": pl.String, "country": pl.String}
                 ).write_parquet(target / "users.parquet")
    pl.DataFrame({"item_id": list(items), "cameo_user_ids": [c for c, _ in items.values()],
                  "safety_label": [s for _, s in items.values()]},
                 schema={"item_id": pl.String, "cameo_user_ids": pl.List(pl.String),
                         "safety_label": pl.String}).write_parquet(target / "items.parquet")
    point_latest(root, target)
    return target
