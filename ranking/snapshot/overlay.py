"""Items made after the snapshot was published (same-day generations): an overlay with its
own owner, never a change to the loaded snapshot.

`LiveItems` is immutable: `add` returns a new one, so a request that took the current
overlay once ranks on exactly that set of items while another thread adds more (the server
swaps one reference). Its rows continue the snapshot's (`n_base`, `n_base + 1`, ...), so a
`ServingView` reads the two as one row space. A new item has no engagement history: its
features are the snapshot's defaults for an item with none, and its creator's features.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

import numpy as np

from ranking.snapshot.items import RATINGS

__all__ = ["PER_ITEM", "LiveItems"]

# The snapshot's per-item arrays; an overlay holds the same ones for its own rows.
PER_ITEM = ("item_creator", "item_topic", "item_created_s", "item_unservable", "item_rating",
            "item_impressions", "item_cap_key", "item_block", "item_country",
            "item_vectors", "has_vector", "item_norms")


UNRATED = RATINGS.index("unrated")


def _empty(snap, name: str) -> np.ndarray:
    base = getattr(snap, name)
    return np.empty((0, *base.shape[1:]), dtype=base.dtype)


@dataclass(frozen=True)
class LiveItems:
    n_base: int                                   # the snapshot's item count
    capacity: int                                 # most items this overlay takes
    ids: tuple[object, ...] = ()
    creator_ids: tuple[object, ...] = ()
    arrays: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    row: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    owners: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    by_creator: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def empty(cls, snap, capacity: int | None = None) -> LiveItems:
        arrays = {name: _empty(snap, name) for name in PER_ITEM}
        return cls(snap.n_base, snap.spare_items if capacity is None else capacity,
                   arrays=MappingProxyType(arrays))

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, snap, items: list[dict]) -> LiveItems:
        """A new overlay with `items` (rows of `generated_items`) appended; ones already
        known (here or in the snapshot) and any beyond `capacity` are left out (the
        nightly run folds them in)."""
        fresh = [i for i in items if i["item_id"] not in self.row
                 and i["item_id"] not in snap.item_row]
        fresh = list({i["item_id"]: i for i in fresh}.values())[: self.capacity - len(self)]
        if not fresh:
            return self
        start = self.n_base + len(self)
        rows = {name: [] for name in PER_ITEM}
        ids, creators = list(self.ids), list(self.creator_ids)
        row_of, owners = dict(self.row), dict(self.owners)
        by_creator = {k: list(v) for k, v in self.by_creator.items()}
        for n, item in enumerate(fresh):
            row, creator = start + n, snap.user_row.get(item["creator_id"], -1)
            cameos = tuple(item.get("cameo_user_ids") or ())
            created = item["created_at"]  # ISO text as the control store keeps it
            created_s = (datetime.fromisoformat(created) if isinstance(created, str)
                         else created).timestamp()
            static = [(snap.as_of_s - created_s) // 3600, item.get("duration_s"), len(cameos),
                      float(item.get("remix_of") is not None), 0.0]
            vector = item.get("embedding")
            dim = snap.item_vectors.shape[1]
            usable = vector is not None and len(vector) == dim
            values = {
                "item_creator": creator, "item_topic": -1, "item_created_s": created_s,
                "item_unservable": False,
                "item_rating": RATINGS.index(item.get("safety_label") or "unrated")
                if (item.get("safety_label") or "unrated") in RATINGS else UNRATED,
                "item_impressions": 0, "item_cap_key": creator,
                "item_block": np.concatenate([np.array(static, dtype=np.float64),
                                              snap.item_defaults,
                                              snap.creator_features[creator]]),
                "item_country": snap.user_country_code[creator] if creator >= 0 else -1,
                "item_vectors": (np.asarray(vector, dtype=np.float32) if usable
                                 else np.zeros(dim, dtype=np.float32)),
                "has_vector": usable,
                "item_norms": (float(np.linalg.norm(vector)) or np.nan) if usable else np.nan,
            }
            for name in PER_ITEM:
                rows[name].append(values[name])
            ids.append(item["item_id"])
            creators.append(item["creator_id"])
            row_of[item["item_id"]] = row
            if cameos:
                owners[row] = cameos
            by_creator.setdefault(creator, []).append(row)
        arrays = {name: np.concatenate([self.arrays[name],
                                        np.asarray(rows[name], dtype=self.arrays[name].dtype)
                                        .reshape(-1, *self.arrays[name].shape[1:])])
                  for name in PER_ITEM}
        return replace(self, ids=tuple(ids), creator_ids=tuple(creators),
                       arrays=MappingProxyType(arrays), row=MappingProxyType(row_of),
                       owners=MappingProxyType(owners),
                       by_creator=MappingProxyType({k: tuple(v) for k, v in
                                                    by_creator.items()}))
