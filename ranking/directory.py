"""Who and what this home knows right now: a user or an item exists when the serving
snapshot holds it or the control store has registered it since (an account,
`reelrank.control.known`; a finished generation, `reelrank.control.items`).

The API builds a `Directory` over the snapshot it serves (`Directory.of`), the generation
worker over the published snapshot's id files (`Directory.read`), and both ask the control
store for the rest, so the two answer alike. Asked at generation submission and again by the
worker (requester, cameos, the remixed item), by the DM policy (someone who does not exist is
refused like any other refusal), and by the moderators' label endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ranking.snapshot.items import RATINGS
from reelrank.control.connection import Connection
from reelrank.control.items import generated_item
from reelrank.control.known import registered_users
from reelrank.control.labels import label_of

__all__ = ["Directory", "KnownItem"]


@dataclass(frozen=True)
class KnownItem:
    """An item of the home: the people in it (its cameo list) and its rating now (a
    moderator's label if there is one, else the item's own)."""

    item_id: object
    cameo_user_ids: tuple[object, ...]
    safety_label: str


@dataclass(frozen=True)
class Directory:
    """The snapshot's half: its users and items (rows), each item's cameo owners and
    rating code; empty for a home that has published no snapshot yet."""

    user_row: Mapping[object, int] = field(default_factory=dict)
    item_row: Mapping[object, int] = field(default_factory=dict)
    cameo_owners: Mapping[int, tuple[object, ...]] = field(default_factory=dict)
    item_rating: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))

    @classmethod
    def of(cls, snap) -> Directory:
        """Over a loaded `ServingSnapshot` (its maps are shared, not copied)."""
        return cls(snap.user_row, snap.item_row, snap.cameo_owners, snap.item_rating)

    @classmethod
    def read(cls, snapshot_dir: Path) -> Directory:
        """From a published snapshot's user and item tables (only the id columns, the
        cameo lists and the ratings: a second or so at a million items). Raises OSError or
        a Polars error when they cannot be read."""
        users = pl.read_parquet(snapshot_dir / "users.parquet", columns=["user_id"])
        items = pl.read_parquet(snapshot_dir / "items.parquet",
                                columns=["item_id", "cameo_user_ids", "safety_label"])
        code = {r: n for n, r in enumerate(RATINGS)}
        return cls(
            {u: n for n, u in enumerate(users["user_id"].to_list())},
            {i: n for n, i in enumerate(items["item_id"].to_list())},
            {n: tuple(o) for n, o in enumerate(items["cameo_user_ids"].to_list()) if o},
            np.array([code.get(r, code["unrated"]) for r in items["safety_label"].to_list()],
                     dtype=np.int8))

    def known_users(self, control: Connection, users: Iterable[object]) -> set[object]:
        """Those of `users` that exist. The control store is asked about all of them,
        even ones the snapshot holds, so an answer takes as long whoever is asked about."""
        ids = list(users)
        registered = registered_users(control, ids)
        return {u for u in ids if u in registered or u in self.user_row}

    def unknown_users(self, control: Connection, users: Iterable[object]) -> list[object]:
        """Those of `users` (in order, once each) that do not exist."""
        ids = list(dict.fromkeys(users))
        known = self.known_users(control, ids)
        return [u for u in ids if u not in known]

    def item(self, control: Connection, item_id: object) -> KnownItem | None:
        """The item, or None when neither the snapshot nor the generated items hold it."""
        row = self.item_row.get(item_id, -1)
        if row >= 0:
            owners, rating = self.cameo_owners.get(row, ()), RATINGS[int(self.item_rating[row])]
        else:
            made = generated_item(control, item_id)
            if made is None:
                return None
            owners, rating = tuple(made["cameo_user_ids"]), str(made["safety_label"])
        label = label_of(control, item_id)
        return KnownItem(item_id, tuple(owners),
                         str(label["label"]) if label is not None else rating)
