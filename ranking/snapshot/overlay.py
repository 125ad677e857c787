"""What changed since the snapshot was published: items made since (same-day generations)
and moderators' safety labels set since. An overlay with its own owner, never a change to
the loaded snapshot.

`LiveItems` is immutable: `add` and `relabel` return a new one, so a request that took the
current overlay once ranks on exactly that state while another thread adds more (the server
swaps one reference). Its rows continue the snapshot's (`n_base`, `n_base + 1`, ...), so a
`ServingView` reads the two as one row space. A new item has no engagement history: its
features are the snapshot's defaults for an item with none, and its creator's features; it
carries its caption and prompt text (`texts`), which muted words are matched against.
A label overrides the rating (`item_rating`) of whichever row holds that item, the
snapshot's or the overlay's, including items added after the label; `ServingView.take`
applies it.

Live item statistics: impressions and wins (watched to the end, liked, shared, commented,
remixed) counted from the events of the day since the snapshot (`counted`), for any item,
the snapshot's or the overlay's: `ServingView.take("item_impressions")` adds them to the
snapshot's count (a fresh video leaves exploration once it has been shown enough today), and
exploration samples from them (`ranking.sources.fresh`).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    texts: tuple[str, ...] = ()                   # caption and prompt, by overlay row
    arrays: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    row: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    owners: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    by_creator: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    labels: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # id -> code
    rated_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    rated_codes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    counts: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # id -> (shown, won)
    stat_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    stat_shown: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    stat_won: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

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
        ids, creators, texts = list(self.ids), list(self.creator_ids), list(self.texts)
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
            texts.append(str(item.get("text") or ""))
            row_of[item["item_id"]] = row
            if cameos:
                owners[row] = cameos
            by_creator.setdefault(creator, []).append(row)
        arrays = {name: np.concatenate([self.arrays[name],
                                        np.asarray(rows[name], dtype=self.arrays[name].dtype)
                                        .reshape(-1, *self.arrays[name].shape[1:])])
                  for name in PER_ITEM}
        grown = replace(self, ids=tuple(ids), creator_ids=tuple(creators), texts=tuple(texts),
                        arrays=MappingProxyType(arrays), row=MappingProxyType(row_of),
                        owners=MappingProxyType(owners),
                        by_creator=MappingProxyType({k: tuple(v) for k, v in
                                                     by_creator.items()}))
        grown = grown._rated(snap) if self.labels else grown
        return grown._stats(snap) if self.counts else grown

    def relabel(self, snap, labels: Mapping[object, str]) -> LiveItems:
        """A new overlay where each item in `labels` (item id -> a label of `RATINGS`) is
        rated so; the newest label of an item wins. Items neither here nor in the snapshot
        keep their label for when they are added."""
        if not labels:
            return self
        merged = {**self.labels, **{i: RATINGS.index(label) for i, label in labels.items()}}
        return replace(self, labels=MappingProxyType(merged))._rated(snap)

    def _rated(self, snap) -> LiveItems:
        pairs = []
        for item, code in self.labels.items():
            row = snap.item_row.get(item, -1)
            row = row if row >= 0 else self.row.get(item, -1)
            if row >= 0:
                pairs.append((row, code))
        pairs.sort()
        return replace(self, rated_rows=np.array([r for r, _ in pairs], dtype=np.int64),
                       rated_codes=np.array([c for _, c in pairs], dtype=np.int8))

    def counted(self, snap, deltas: Mapping[object, tuple[int, int]]) -> LiveItems:
        """A new overlay with `deltas` (item id -> impressions, wins since the last call)
        added to the live statistics."""
        if not deltas:
            return self
        merged = dict(self.counts)
        for item, (shown, won) in deltas.items():
            was = merged.get(item, (0, 0))
            merged[item] = (was[0] + int(shown), was[1] + int(won))
        return replace(self, counts=MappingProxyType(merged))._stats(snap)

    def _stats(self, snap) -> LiveItems:
        triples = []
        for item, (shown, won) in self.counts.items():
            row = snap.item_row.get(item, -1)
            row = row if row >= 0 else self.row.get(item, -1)
            if row >= 0:
                triples.append((row, shown, won))
        triples.sort()
        return replace(self, stat_rows=np.array([t[0] for t in triples], dtype=np.int64),
                       stat_shown=np.array([t[1] for t in triples], dtype=np.int64),
                       stat_won=np.array([t[2] for t in triples], dtype=np.int64))

    def live_counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(impressions, wins) counted live for `rows` (zeros where none)."""
        rows = np.asarray(rows, dtype=np.int64)
        shown = np.zeros(len(rows), dtype=np.int64)
        won = np.zeros(len(rows), dtype=np.int64)
        if not len(self.stat_rows) or not len(rows):
            return shown, won
        at = np.minimum(np.searchsorted(self.stat_rows, rows), len(self.stat_rows) - 1)
        hit = self.stat_rows[at] == rows
        shown[hit] = self.stat_shown[at[hit]]
        won[hit] = self.stat_won[at[hit]]
        return shown, won

    def ratings(self, rows: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """`ratings` (the stored `item_rating` of `rows`) with the labels applied."""
        if not len(self.rated_rows) or not len(rows):
            return ratings
        at = np.minimum(np.searchsorted(self.rated_rows, rows), len(self.rated_rows) - 1)
        hit = self.rated_rows[at] == rows
        if not hit.any():
            return ratings
        out = np.array(ratings, copy=True)
        out[hit] = self.rated_codes[at[hit]]
        return out
