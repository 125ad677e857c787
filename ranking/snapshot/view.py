"""One row space over the loaded snapshot and the items added since (`LiveItems`).

Rows below `n_base` are the snapshot's, rows from `n_base` on the overlay's. Components read
per-item values through `take(name, rows)` (ratings with moderators' labels since the
snapshot applied, for both kinds of row) and ids through `item_ids_of` / `row_of`, which
route each row to its owner; everything else (users, features, graph, indexes) is the
snapshot's, read through the view as it would be through the snapshot. A `ServingSnapshot`
answers the same methods for a day with nothing new, so every component takes either.
"""

from __future__ import annotations

import numpy as np

from ranking.snapshot.overlay import LiveItems
from ranking.snapshot.reader import ServingSnapshot

__all__ = ["ServingView", "View", "view_of"]


class ServingView:
    def __init__(self, snap: ServingSnapshot, live: LiveItems) -> None:
        self.snap, self.live = snap, live

    def __getattr__(self, name: str):
        # Whatever is not per item (users, pairs, graph, indexes...) is the snapshot's.
        return getattr(self.snap, name)

    @property
    def n_items(self) -> int:
        return self.snap.n_base + len(self.live)

    @property
    def n_base(self) -> int:
        return self.snap.n_base

    @property
    def live_by_creator(self):
        return self.live.by_creator

    def take(self, name: str, rows: np.ndarray) -> np.ndarray:
        """A per-item array's values at `rows`; `item_rating` with the overlay's labels,
        `item_impressions` with the impressions counted live."""
        out = self._take(name, rows)
        if name == "item_rating":
            return self.live.ratings(np.asarray(rows), out)
        if name == "item_impressions" and len(self.live.stat_rows):
            return out + self.live.live_counts(rows)[0].astype(out.dtype)
        return out

    def live_counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(impressions, wins) of `rows` counted live since the snapshot."""
        return self.live.live_counts(rows)

    def _take(self, name: str, rows: np.ndarray) -> np.ndarray:
        base = getattr(self.snap, name)
        n = self.snap.n_base
        rows = np.asarray(rows)
        if rows.size == 0 or int(rows.max()) < n:
            return base[rows]
        extra = self.live.arrays[name]
        new = rows >= n
        out = np.empty((len(rows), *base.shape[1:]), dtype=base.dtype)
        out[~new] = base[rows[~new]]
        out[new] = extra[rows[new] - n]
        return out

    def row_of(self, item_id: object) -> int:
        row = self.snap.item_row.get(item_id, -1)
        return row if row >= 0 else self.live.row.get(item_id, -1)

    def item_ids_of(self, rows) -> list[object]:
        base, extra, n = self.snap.item_id_list, self.live.ids, self.snap.n_base
        return [base[r] if r < n else extra[r - n] for r in map(int, rows)]

    def texts_of(self, rows) -> list[str]:
        n = self.snap.n_base
        rows = [int(r) for r in rows]
        base = self.snap.texts_of([r for r in rows if r < n])[::-1]
        return [base.pop() if r < n else self.live.texts[r - n] for r in rows]

    def owners_of(self, row: int) -> tuple[object, ...]:
        if row < self.snap.n_base:
            return self.snap.cameo_owners.get(row, ())
        return self.live.owners.get(row, ())

    def creator_id_of(self, row: int) -> object:
        n = self.snap.n_base
        return self.snap.item_creator_ids[row] if row < n else self.live.creator_ids[row - n]


def view_of(snap: ServingSnapshot, live: LiveItems | None) -> ServingSnapshot | ServingView:
    """The snapshot itself when nothing was added or labelled since, else the view over
    both."""
    if live is None or (not len(live) and not live.labels and not live.counts):
        return snap
    return ServingView(snap, live)


View = ServingSnapshot | ServingView  # what every ranking component reads
