"""The serving snapshot in memory: what `rank a user` reads, laid out for microseconds.

`ServingSnapshot.load(directory)` verifies the directory against its manifest, then runs one
loader per artifact (`items`, `users`, `pairs`, `vectors`, `graph`, `popular`, `models`):
every id becomes a row number once (items by their row in `items.parquet`, people by their
row in `users.parquet`, topics and regions by first sight), per-entity features become
float64 matrices with NaN for "no value" and a defaults row for an entity with no history,
and per-user lists become CSR arrays, so lookups are `searchsorted`, not hash joins.

A loaded snapshot is read-only. What changes during the day (generations finished since it
was published) is an explicit overlay, `ranking.snapshot.overlay.LiveItems`, owned by the
server; `ServingView` reads the two as one row space. The snapshot itself answers the same
view methods (`take`, `item_ids_of`, ...) for its own rows, so it is the view of a day with
nothing new.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import polars as pl

from ranking.snapshot.format import verify
from ranking.snapshot.graph import load_graph
from ranking.snapshot.items import load_items
from ranking.snapshot.models import load_collab_users, load_ease, load_index
from ranking.snapshot.pairs import load_pairs
from ranking.snapshot.popular import load_popular
from ranking.snapshot.users import load_people
from ranking.snapshot.vectors import load_vectors
from reelrank.errors import ReelrankError

__all__ = ["ServingSnapshot"]


class ServingSnapshot:
    """Load with `ServingSnapshot.load(directory)`; read-only afterwards."""

    def __init__(self, directory: Path, manifest: dict, spare_items: int = 0) -> None:
        self.directory = directory
        self.as_of = date.fromisoformat(manifest["as_of"])
        self.as_of_s = datetime.combine(self.as_of, time(), tzinfo=UTC).timestamp()
        self.ranker_name: str | None = manifest.get("ranker")
        self.log_kind: str = manifest.get("log_kind", "exposures")
        self.spare_items = spare_items  # room the server's overlay may take (`LiveItems`)
        # Values derived from this snapshot alone, cached by the sources that derive them
        # (keyed by the settings they depend on); never changes what the snapshot holds.
        self.memo: dict[tuple, object] = {}
        defaults: dict[str, dict[str, object]] = manifest["defaults"]

        def read(name: str) -> pl.DataFrame:
            return pl.read_parquet(directory / name)

        people = load_people(read, defaults)
        self.__dict__.update(vars(people))
        items = load_items(read, people.user_row, people.user_ids, defaults)
        self.__dict__.update(vars(items))
        self.pairs = load_pairs(read, defaults, user_row=self.user_row,
                                topic_code=self.topic_code, item_row=self.item_row,
                                region_code=self.region_code)
        self.__dict__.update(vars(load_vectors(read, item_row=self.item_row,
                                               user_row=self.user_row)))
        self.__dict__.update(vars(load_graph(
            read, user_row=self.user_row, item_row=self.item_row,
            item_creator=self.item_creator, item_created_s=self.item_created_s)))
        decayed = self.item_block[:, self.item_block_cols.index("item_engagement_decayed")]
        self.__dict__.update(vars(load_popular(read, item_row=self.item_row,
                                               region_code=self.region_code,
                                               decayed=decayed)))
        indexes = directory / "indexes"
        self.content_index = load_index(indexes / "content", self.item_row)
        self.collab_index = load_index(indexes / "collaborative", self.item_row)
        self.collab_users = (load_collab_users(indexes / "collaborative", self.user_row)
                             if self.collab_index is not None else {})
        self.ease = load_ease(indexes / "ease", self.item_row)
        self.ranker_dir = directory / "ranker" if (directory / "ranker").is_dir() else None

    @classmethod
    def load(cls, directory: Path, spare_items: int = 0) -> ServingSnapshot:
        """Verify every file against the manifest, then load; `ReelrankError` otherwise.
        `spare_items`: how many items made after the snapshot a server may add to its
        overlay (`LiveItems`) before they wait for the nightly run."""
        directory = directory.resolve()
        manifest = verify(directory)
        try:
            return cls(directory, manifest, spare_items)
        except (OSError, KeyError, ValueError, pl.exceptions.PolarsError) as exc:
            raise ReelrankError(f"{directory}: snapshot unusable: {exc}") from exc

    def active_users(self) -> pl.Series:
        """Users with any impression before the snapshot date: whom the batch scores."""
        return self.user_ids.filter(pl.Series(np.diff(self.seen.ptr) > 0))

    # The view interface (see `ServingView`): this snapshot's rows, nothing added since.

    @property
    def n_items(self) -> int:
        return len(self.item_id_list)

    @property
    def n_base(self) -> int:
        return len(self.item_id_list)

    @property
    def live_by_creator(self) -> dict[int, tuple[int, ...]]:
        return {}

    def take(self, name: str, rows: np.ndarray) -> np.ndarray:
        """A per-item array's values at `rows` (`item_creator`, `item_block`, ...)."""
        return getattr(self, name)[rows]

    def row_of(self, item_id: object) -> int:
        return self.item_row.get(item_id, -1)

    def item_ids_of(self, rows) -> list[object]:
        ids = self.item_id_list
        return [ids[int(r)] for r in rows]

    def owners_of(self, row: int) -> tuple[object, ...]:
        """The cameo owners of an item (ids), its creator included if listed."""
        return self.cameo_owners.get(row, ())

    def creator_id_of(self, row: int) -> object:
        return self.item_creator_ids[row]

    @staticmethod
    def nearest(index_rows, vectors: np.ndarray, k: int
                ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(snapshot rows, inner products) of the best `k` items for each query vector
        in one of the snapshot's indexes (`content_index` or `collab_index`); items the
        snapshot does not hold are left out."""
        index, to_row = index_rows
        labels, scores = index.search_positions(vectors, k)
        out = []
        for row_labels, row_scores in zip(labels, scores, strict=True):
            ok = row_labels >= 0
            rows = to_row[row_labels[ok]]
            keep = rows >= 0
            out.append((rows[keep], row_scores[ok][keep].astype(np.float64)))
        return out

    def collaborative_scores(self, user: int, rows: np.ndarray) -> np.ndarray:
        """EASE's score x_u B of each of `rows` for `user` (NaN where it has none: no
        model, an unknown user, or an item the model does not hold)."""
        out = np.full(len(rows), np.nan)
        if user < 0 or self.ease is None:
            return out
        weights, to_weight, _ = self.ease
        seen = to_weight[self.seen.values[self.seen.of(user)]]
        seen = seen[seen >= 0]
        inside = rows < len(to_weight)
        cols = to_weight[np.where(inside, rows, 0)]
        ok = (cols >= 0) & inside
        if len(seen):
            out[ok] = weights[seen][:, cols[ok]].sum(axis=0)
        return out
