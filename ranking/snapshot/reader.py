"""The serving snapshot in memory: what `rank a user` reads, laid out for microseconds.

`ServingSnapshot.load(directory)` verifies the directory against its manifest, builds the
ids (`ranking.snapshot.ids`: every id becomes a row number once, items by their row in
`items.parquet`, people by theirs in `users.parquet`) and maps the arrays the writer froze
(`ranking.snapshot.frozen`; computed here from the Parquet tables when there are none):
per-entity features as float64 matrices with NaN for "no value" and a defaults row for an
entity with no history, per-user lists as CSR arrays, so lookups are `searchsorted`, not
hash joins. Mapped arrays are shared by every process serving the same snapshot.

A loaded snapshot is read-only. What changes during the day (generations finished since it
was published) is an explicit overlay, `ranking.snapshot.overlay.LiveItems`, owned by the
server; `ServingView` reads the two as one row space. The snapshot itself answers the same
view methods (`take`, `item_ids_of`, ...) for its own rows, so it is the view of a day with
nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import polars as pl

from ranking.snapshot.arrays import Csr
from ranking.snapshot.format import verify
from ranking.snapshot.frozen import compute, thaw
from ranking.snapshot.graph import GRAPH_LISTS
from ranking.snapshot.ids import load_ids
from ranking.snapshot.models import load_ease, load_index
from ranking.snapshot.pairs import PAIR_BLOCKS
from ranking.snapshot.vectors import RowVectors
from reelrank.errors import ReelrankError

__all__ = ["RankedLists", "ServingSnapshot"]

_PLAIN = ("item_creator", "item_topic", "item_created_s", "item_unservable", "item_rating",
          "item_impressions", "item_cap_key", "item_block", "item_country", "item_defaults",
          "creator_features", "user_block", "user_region", "user_country_code",
          "item_vectors", "has_vector", "item_norms", "user_vector_from_chat")


class RankedLists(Mapping):
    """key -> (item rows, scores) best first, over CSR arrays; keys without a list are
    absent. `code`: key -> position (None: keys are positions)."""

    def __init__(self, ptr: np.ndarray, rows: np.ndarray, scores: np.ndarray,
                 code: dict | None = None) -> None:
        self.ptr, self.rows, self.scores, self.code = ptr, rows, scores, code

    def _at(self, key: object) -> int:
        at = self.code.get(key, -1) if self.code is not None else key
        if not isinstance(at, int | np.integer) or not 0 <= at < len(self.ptr) - 1 \
                or self.ptr[at] == self.ptr[at + 1]:
            raise KeyError(key)
        return int(at)

    def __getitem__(self, key: object) -> tuple[np.ndarray, np.ndarray]:
        at = self._at(key)
        span = slice(int(self.ptr[at]), int(self.ptr[at + 1]))
        return self.rows[span], self.scores[span]

    def __iter__(self) -> Iterator[object]:
        keys = list(self.code) if self.code is not None else range(len(self.ptr) - 1)
        return (k for k in keys if k in self)

    def __contains__(self, key: object) -> bool:
        try:
            self._at(key)
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return int((np.diff(self.ptr) > 0).sum())


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

        def read(name: str, columns: list[str] | None = None) -> pl.DataFrame:
            return pl.read_parquet(directory / name, columns=columns)

        ids = load_ids(read)
        self.__dict__.update(vars(ids))
        frozen = thaw(directory)
        arrays, meta = frozen if frozen is not None else compute(
            directory, read, ids, manifest["defaults"])
        self.frozen = frozen is not None
        for name in _PLAIN:
            setattr(self, name, arrays[name])
        n_items = len(self.item_id_list)  # an older snapshot's arrays hold no texts
        self.item_text_ptr = arrays.get("item_text.ptr", np.zeros(n_items + 1, dtype=np.int64))
        self.item_text_bytes = arrays.get("item_text.bytes", np.empty(0, dtype=np.uint8))
        # The model that embedded the captions (None: not recorded by an older writer).
        self.embedding_model: str | None = manifest.get("embedding_model")
        self.item_block_cols: list[str] = meta["item_block_cols"]
        self.user_block_cols: list[str] = meta["user_block_cols"]
        self.topic_code = {t: n for n, t in enumerate(meta["topics"])}
        self.region_code = {r: n for n, r in enumerate(meta["regions"])}
        self.country_code = {c: n for n, c in enumerate(meta["countries"])}
        self.cameo_people = Csr(arrays["cameo_people.ptr"], arrays["cameo_people.values"])
        for name in GRAPH_LISTS:
            setattr(self, name, Csr(arrays[f"{name}.ptr"], arrays[f"{name}.values"],
                                    arrays.get(f"{name}.rows")))
        self.pairs = {name: (Csr(arrays[f"pair.{name}.ptr"], arrays[f"pair.{name}.values"],
                                 arrays[f"pair.{name}.rows"]),
                             arrays[f"pair.{name}.matrix"], meta["pair_cols"][name])
                      for name in PAIR_BLOCKS}
        self.user_vectors = RowVectors(arrays["user_vectors.matrix"], arrays["user_vectors.has"])
        self.regional = RankedLists(arrays["regional.ptr"], arrays["regional.rows"],
                                    arrays["regional.scores"])
        self.country_popular = RankedLists(arrays["country_popular.ptr"],
                                           arrays["country_popular.rows"],
                                           arrays["country_popular.scores"], self.country_code)
        self.global_top = (arrays["global_top.rows"], arrays["global_top.scores"])
        indexes = directory / "indexes"
        self.content_index = load_index(indexes / "content", self.item_row)
        self.collab_index = load_index(indexes / "collaborative", self.item_row)
        self.collab_users: Mapping[int, np.ndarray] = (
            RowVectors(arrays["collab_users.matrix"], arrays["collab_users.has"])
            if self.collab_index is not None and "collab_users.has" in arrays else {})
        self.ease = load_ease(indexes / "ease", self.item_row)
        # The learned stage's lists, by user row (empty when the run had none).
        self.learned = (RankedLists(arrays["learned.ptr"], arrays["learned.rows"],
                                    arrays["learned.scores"])
                        if "learned.ptr" in arrays else {})
        self.ranker_dir = directory / "ranker" if (directory / "ranker").is_dir() else None

    @classmethod
    def load(cls, directory: Path, spare_items: int = 0) -> ServingSnapshot:
        """Verify every file against the manifest, then load; `ReelrankError` otherwise.
        `spare_items`: how many items made after the snapshot a server may add to its
        overlay (`LiveItems`) before they wait for the nightly run."""
        directory = directory.resolve()
        manifest = verify(directory, trusted=directory.parent / ".verified")
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

    def live_counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(impressions, wins) counted live since the snapshot: none without an overlay."""
        zeros = np.zeros(len(rows), dtype=np.int64)
        return zeros, zeros.copy()

    def row_of(self, item_id: object) -> int:
        return self.item_row.get(item_id, -1)

    def item_ids_of(self, rows) -> list[object]:
        ids = self.item_id_list
        return [ids[int(r)] for r in rows]

    def texts_of(self, rows) -> list[str]:
        """The caption and prompt text of each of `rows` ("" where none)."""
        ptr, data = self.item_text_ptr, self.item_text_bytes
        return [data[ptr[r]:ptr[r + 1]].tobytes().decode() for r in map(int, rows)]

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
