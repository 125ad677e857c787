"""The static feed: last night's lists alone, no API and no reaction to anything.

Each person gets their precomputed list from `HOME/feeds/latest/part-*.parquet` page by page
in position order; the feed ends when the list ends. A person without one (a new user, or an
account the batch did not score) gets what the engine ranks for them from the latest
snapshot with no live state at all (no grants, blocks or policies: the engine's defaults),
computed once and then served page by page the same way: a list that never changes, like a
precomputed one. Posted events go nowhere.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from cli.sessions.feed import Served
from ranking.engine import Engine
from ranking.live import NO_LIVE_STATE
from ranking.snapshot.reader import ServingSnapshot
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["StaticFeed"]


class StaticFeed:
    mode = "static"

    def __init__(self, home: DataHome) -> None:
        parts = sorted((home.dir("feeds") / "latest").glob("part-*.parquet"))
        if not parts:
            raise ReelrankError(f"{home.root} has no precomputed feeds (feeds/latest); run "
                                f"`reelrank run --home {home.root}` first")
        feeds = (pl.scan_parquet(parts).select("user_id", "position", "item_id")
                 .sort("user_id", "position").collect())
        self._lists: dict[object, list[object]] = {
            user: part["item_id"].to_list()
            for (user,), part in feeds.group_by("user_id", maintain_order=True)}
        self._home = home
        self._engine: Engine | None = None
        self.ranked_online: set[object] = set()

    @property
    def precomputed_users(self) -> int:
        return len(self._lists)

    def _list(self, user_id: object) -> list[object]:
        found = self._lists.get(user_id)
        if found is None:
            if self._engine is None:
                snap = ServingSnapshot.load(self._home.dir("snapshots") / "latest")
                self._engine = Engine.load(snap, self._home.settings)
            found = self._engine.rank([user_id], NO_LIVE_STATE).pages[0].item_ids
            self._lists[user_id] = found
            self.ranked_online.add(user_id)
        return found

    def page(self, user_id: object, cursor: str | None, limit: int, at: datetime) -> Served:
        items = self._list(user_id)
        offset = int(cursor) if cursor is not None else 0
        end = min(offset + limit, len(items))
        return Served(list(items[offset:end]), str(end) if end < len(items) else None)

    def post(self, events: list[dict[str, object]], at: datetime) -> None:
        return None
