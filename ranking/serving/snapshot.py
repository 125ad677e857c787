"""The serving snapshot in memory: what `rank a user` reads, laid out for microseconds.

Every id becomes a row number once, at load: items by their row in `items.parquet`, people
(users and creators) by their row in `users.parquet`, topics and regions by first sight.
Per-entity features become float64 matrices with NaN for "no value"; an entity with no
history gets the defaults row the export computed with the same SQL. Per-user lists (seen
items, graph, pair features) are CSR arrays: one slice per user, sorted, so lookups are
`searchsorted` rather than hash joins.

A snapshot is immutable once loaded; the server swaps whole snapshots.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import polars as pl

from ranking.serving.export import ENTITY_FILES, FORMAT, MANIFEST
from reelrank.checksums import file_sha256
from reelrank.errors import ReelrankError

__all__ = ["Csr", "ServingSnapshot"]

log = logging.getLogger(__name__)

# Per-item columns exported with the items, used directly as ranker features.
ITEM_STATIC = ("item_age_hours", "item_duration_s", "item_cameo_count", "item_is_remix",
               "item_sensitive")


@dataclass(frozen=True)
class Csr:
    """Sorted values per key: `values[ptr[k]:ptr[k+1]]` (and `rows` aligned with them)."""

    ptr: np.ndarray
    values: np.ndarray
    rows: np.ndarray | None = None

    @classmethod
    def build(cls, keys: np.ndarray, values: np.ndarray, n_keys: int,
              rows: np.ndarray | None = None) -> Csr:
        order = np.lexsort((values, keys))
        keys, values = keys[order], values[order]
        ptr = np.searchsorted(keys, np.arange(n_keys + 1)).astype(np.int64)
        return cls(ptr, values, rows[order] if rows is not None else None)

    def of(self, key: int) -> slice:
        return slice(int(self.ptr[key]), int(self.ptr[key + 1])) if key >= 0 else slice(0, 0)

    def lookup(self, key: int, wanted: np.ndarray, default: int) -> np.ndarray:
        """`rows` of each `wanted` value under `key`, `default` where absent."""
        span = self.of(key)
        vals = self.values[span]
        if len(vals) == 0:
            return np.full(len(wanted), default, dtype=np.int64)
        at = np.minimum(np.searchsorted(vals, wanted), len(vals) - 1)
        hit = vals[at] == wanted
        rows = self.rows[span] if self.rows is not None else np.arange(span.start, span.stop)
        return np.where(hit, rows[at], default)


class IdRows(dict):
    """id -> row, as a dict for single lookups and a frame for coding whole columns (a
    join: at 45M lookups per load, a Python loop over the dict took half the load time)."""

    _frame: pl.DataFrame | None = None

    def frame(self) -> pl.DataFrame:
        if self._frame is None or self._frame.height != len(self):
            self._frame = pl.DataFrame({"id": list(self.keys()),
                                        "row": np.fromiter(self.values(), dtype=np.int64,
                                                           count=len(self))})
        return self._frame


def _codes(ids: pl.Series, index: dict[object, int]) -> np.ndarray:
    """Row numbers of `ids` in `index`, -1 for ids it does not hold."""
    if not isinstance(index, IdRows) or ids.len() < 10_000:
        return np.fromiter((index.get(i, -1) for i in ids.to_list()), dtype=np.int64,
                           count=ids.len())
    table = index.frame()
    if table.is_empty() or ids.dtype != table.schema["id"]:
        return np.fromiter((index.get(i, -1) for i in ids.to_list()), dtype=np.int64,
                           count=ids.len())
    joined = pl.DataFrame({"id": ids}).join(table, on="id", how="left",
                                             maintain_order="left")
    return joined["row"].fill_null(-1).to_numpy()


def _matrix(vectors: pl.Series) -> np.ndarray:
    """A list or fixed-size array column of equal-length vectors as float32 (n, dim)."""
    if vectors.len() == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = vectors.arr.explode() if isinstance(vectors.dtype, pl.Array) else vectors.explode()
    return flat.cast(pl.Float32).to_numpy().reshape(vectors.len(), -1)


def _with_defaults(frame: pl.DataFrame, columns: list[str], defaults: dict[str, object]
                   ) -> np.ndarray:
    """`frame[columns]` as float64 with one more row at the end holding the defaults."""
    body = frame.select(columns).cast(pl.Float64).to_numpy() if frame.height else \
        np.empty((0, len(columns)))
    tail = np.array([[np.nan if defaults.get(c) is None else float(defaults[c])
                      for c in columns]])
    return np.ascontiguousarray(np.vstack([body, tail]))


def _verify(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ReelrankError(f"{directory}: no readable {MANIFEST} ({exc}); not a snapshot") \
            from exc
    if manifest.get("format") != FORMAT:
        raise ReelrankError(f"{directory}: snapshot format {manifest.get('format')!r}, this "
                            f"version reads {FORMAT}")
    for name, want in manifest["files"].items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != want["bytes"] \
                or file_sha256(path) != want["sha256"]:
            raise ReelrankError(f"{path}: missing or does not match {MANIFEST}; "
                                "refusing a corrupt or half-written snapshot")
    return manifest


class ServingSnapshot:
    """Load with `ServingSnapshot.load(directory)`; read-only afterwards."""

    def __init__(self, directory: Path, manifest: dict, spare_items: int = 0) -> None:
        self.directory = directory
        self.as_of = date.fromisoformat(manifest["as_of"])
        self.as_of_s = datetime.combine(self.as_of, time(), tzinfo=UTC).timestamp()
        self.memo: dict[tuple, object] = {}  # derived arrays sources cache per settings
        self.ranker_name: str | None = manifest.get("ranker")
        defaults: dict[str, dict[str, object]] = manifest["defaults"]
        read = lambda name: pl.read_parquet(directory / name)

        users = read("users.parquet")
        self.user_ids = users["user_id"]
        self.user_id_list: list[object] = self.user_ids.to_list()  # row -> id, in O(1)
        self.user_row = IdRows((u, n) for n, u in enumerate(self.user_ids.to_list()))
        n_users = users.height

        items = read("items.parquet")
        self.items = items
        self.item_ids = items["item_id"]
        self.item_id_list: list[object] = self.item_ids.to_list()
        self.item_row = IdRows((i, n) for n, i in enumerate(self.item_ids.to_list()))
        n_items = items.height
        self.item_creator = _codes(items["creator_id"], self.user_row)
        self.item_creator_ids = items["creator_id"].to_list()
        topics = items["topic"].drop_nulls().unique().sort().to_list()
        self.topic_code = {t: n for n, t in enumerate(topics)}
        self.item_topic = _codes(items["topic"], self.topic_code)
        self.item_created_s = items["created_s"].to_numpy()
        self.item_unservable = (items["safety_label"] == "unsafe").to_numpy()
        self.item_impressions = items["impressions_before"].to_numpy()
        # What the per-creator cap counts: the creator, except a log's stand-in creator,
        # where each item counts as its own.
        self.item_cap_key = np.where(items["stand_in_creator"].to_numpy(),
                                     n_users + np.arange(n_items), self.item_creator)
        self.cameo_owners: dict[int, tuple[object, ...]] = {
            n: tuple(owners) for n, owners in enumerate(items["cameo_user_ids"].to_list())
            if owners}
        country = users["country"].fill_null("").to_list()
        self.user_country = np.array(country, dtype=object)
        creator_country = items["creator_country"].fill_null("").to_numpy().astype(object)

        # Per-item block: static columns, item features, creator features.
        item_f = items.select("item_id").join(read(ENTITY_FILES["item"]), on="item_id",
                                              how="left", maintain_order="left")
        creator_f = items.select("creator_id").join(
            read(ENTITY_FILES["creator"]), on="creator_id", how="left", maintain_order="left")
        item_cols = [c for c in item_f.columns if c not in ("item_id", "as_of")]
        creator_cols = [c for c in creator_f.columns if c not in ("creator_id", "as_of")]
        has_item = item_f["as_of"].is_not_null().to_numpy()
        has_creator = creator_f["as_of"].is_not_null().to_numpy()
        item_m = _with_defaults(item_f, item_cols, defaults["item"])
        creator_m = _with_defaults(creator_f, creator_cols, defaults["creator"])
        item_m[:-1][~has_item] = item_m[-1]
        creator_m[:-1][~has_creator] = creator_m[-1]
        static = items.select(ITEM_STATIC).cast(pl.Float64).to_numpy()
        self.item_block = np.hstack([static, item_m[:-1], creator_m[:-1]])
        self.item_block_cols = [*ITEM_STATIC, *item_cols, *creator_cols]
        self.item_same_country_key = creator_country
        # For items that arrive after the snapshot (same-day generations): an item with no
        # history, and its creator's features by person.
        self._item_defaults = item_m[-1]
        by_person = users.select(pl.col("user_id").alias("creator_id")).join(
            read(ENTITY_FILES["creator"]), on="creator_id", how="left", maintain_order="left")
        self._creator_features = _with_defaults(by_person, creator_cols, defaults["creator"])
        self._creator_features[:-1][~by_person["as_of"].is_not_null().to_numpy()] = \
            self._creator_features[-1]

        # Per-user block: user features and the home region's share.
        user_f = users.select("user_id").join(read(ENTITY_FILES["user"]), on="user_id",
                                              how="left", maintain_order="left")
        homes = users.select("user_id").join(read("home_region.parquet"), on="user_id",
                                             how="left", maintain_order="left")
        user_cols = [c for c in user_f.columns if c not in ("user_id", "as_of")]
        user_m = _with_defaults(user_f, user_cols, defaults["user"])
        user_m[:-1][~user_f["as_of"].is_not_null().to_numpy()] = user_m[-1]
        share = homes["home_region_share"].fill_null(0.0).to_numpy()[:, None]
        self.user_block = np.hstack([user_m, np.vstack([share, [[0.0]]])])
        self.user_block_cols = [*user_cols, "user_home_region_share"]
        regions = homes["home_region"].fill_null("unknown")
        popular = read("regional_popularity.parquet")
        names = sorted(set(regions.to_list()) | set(popular["region"].to_list()))
        self.region_code = {r: n for n, r in enumerate(names)}
        self.user_region = _codes(regions, self.region_code)

        # Pair blocks, CSR by user (or region) code.
        self.pairs: dict[str, tuple[Csr, np.ndarray, list[str]]] = {}
        for name, key, other, code in (
                ("user_creator", "user_id", "creator_id", self.user_row),
                ("user_topic", "user_id", "topic", self.topic_code),
                ("region_item", "region", "item_id", self.item_row)):
            frame = read(ENTITY_FILES[name])
            left = self.region_code if key == "region" else self.user_row
            k, v = _codes(frame[key], left), _codes(frame[other], code)
            keep = (k >= 0) & (v >= 0)
            frame = frame.filter(pl.Series(keep))
            cols = [c for c in frame.columns if c not in (key, other, "as_of")]
            # Rows: the pairs, then the defaults (no history), then all-NaN (no key: an
            # item without a topic has no user x topic features at all).
            matrix = _with_defaults(frame, cols, defaults[name])
            matrix = np.vstack([matrix, np.full((1, len(cols)), np.nan)])
            n_keys = len(self.region_code) if key == "region" else n_users
            csr = Csr.build(k[keep], v[keep], n_keys, np.arange(frame.height))
            self.pairs[name] = (csr, matrix, cols)

        # Retrieval inputs.
        self.item_vectors, self.has_vector = self._item_vectors(read("item_embeddings.parquet"))
        self.user_vectors, self.user_vector_from_chat = self._user_vectors(
            read("user_embeddings.parquet"), n_users)
        graph = read("graph.parquet")
        g_user, g_author = _codes(graph["user_id"], self.user_row), \
            _codes(graph["author"], self.user_row)
        ok = (g_user >= 0) & (g_author >= 0)
        self.people = Csr.build(g_user[ok], g_author[ok], n_users)
        follows = graph["follows"].to_numpy() & ok
        self.follows = Csr.build(g_user[follows], g_author[follows], n_users)
        friends = ~graph["follows"].to_numpy() & ok
        self.friends = Csr.build(g_user[friends], g_author[friends], n_users)
        self.by_creator = Csr.build(self.item_creator, -self.item_created_s, n_users,
                                    np.arange(n_items))
        seen = read("seen.parquet")
        s_user, s_item = _codes(seen["user_id"], self.user_row), \
            _codes(seen["item_id"], self.item_row)
        ok = (s_user >= 0) & (s_item >= 0)
        self.seen = Csr.build(s_user[ok], s_item[ok], n_users)
        self.regional = self._regional(popular)
        self.global_top = self._global_top()
        self.country_popular = self._by_country(popular)
        self.content_index = self._index(directory / "indexes" / "content")
        self.collab_index = self._index(directory / "indexes" / "collaborative")
        self.collab_users = self._collab_users(directory / "indexes" / "collaborative")
        self.ease = self._ease(directory / "indexes" / "ease")
        self.cameo_people = self._cameo_people(items)
        self.log_kind: str = manifest.get("log_kind", "exposures")
        self.ranker_dir = directory / "ranker" if (directory / "ranker").is_dir() else None
        self.live_by_creator: dict[int, list[int]] = {}
        self._reserve(spare_items)

    @classmethod
    def load(cls, directory: Path, spare_items: int = 0) -> ServingSnapshot:
        """Verify every file against the manifest, then load; `ReelrankError` otherwise.
        `spare_items`: room for items added after the snapshot (`add_items`)."""
        directory = directory.resolve()
        manifest = _verify(directory)
        try:
            return cls(directory, manifest, spare_items)
        except (OSError, KeyError, ValueError, pl.exceptions.PolarsError) as exc:
            raise ReelrankError(f"{directory}: snapshot unusable: {exc}") from exc

    def active_users(self) -> pl.Series:
        """Users with any impression before the snapshot date: whom the batch scores."""
        counts = np.diff(self.seen.ptr)
        return self.user_ids.filter(pl.Series(counts > 0))

    @property
    def n_items(self) -> int:
        return len(self.item_id_list)

    # Per-item arrays that `add_items` appends to, in place.
    _PER_ITEM = ("item_creator", "item_topic", "item_created_s", "item_unservable",
                 "item_impressions", "item_cap_key", "item_block", "item_same_country_key",
                 "item_vectors", "has_vector", "item_norms")

    def _reserve(self, spare: int) -> None:
        norms = np.linalg.norm(self.item_vectors, axis=1)
        self.item_norms = np.where(norms > 0, norms, np.nan)
        self.capacity = self.n_items + spare
        if spare == 0:
            return
        for name in self._PER_ITEM:
            old = getattr(self, name)
            grown = np.zeros((self.capacity, *old.shape[1:]), dtype=old.dtype)
            grown[: len(old)] = old
            setattr(self, name, grown)

    def add_items(self, items: list[dict]) -> int:
        """Append items made after the snapshot (rows of `generated_items`): they get no
        engagement history, their creator's features, and reach the graph and fresh
        sources at once. Rows already taken are never rewritten, so a request ranking
        concurrently sees each item either whole or not at all. Returns how many were
        added (fewer when the spare room is used up: the nightly run folds them in)."""
        added = 0
        for item in items:
            if item["item_id"] in self.item_row or self.n_items >= self.capacity:
                continue
            row, creator = self.n_items, self.user_row.get(item["creator_id"], -1)
            cameos = tuple(item.get("cameo_user_ids") or ())
            created = item["created_at"]  # ISO text as the control store keeps it
            created_s = (datetime.fromisoformat(created) if isinstance(created, str)
                         else created).timestamp()
            static = [(self.as_of_s - created_s) // 3600, item.get("duration_s"), len(cameos),
                      float(item.get("remix_of") is not None), 0.0]
            self.item_block[row] = np.concatenate([
                np.array(static, dtype=np.float64), self._item_defaults,
                self._creator_features[creator]])
            self.item_creator[row] = creator
            self.item_topic[row] = -1
            self.item_created_s[row] = created_s
            self.item_unservable[row] = False
            self.item_impressions[row] = 0
            self.item_cap_key[row] = creator
            self.item_same_country_key[row] = self.user_country[creator] if creator >= 0 else ""
            vector = item.get("embedding")
            if vector is not None and len(vector) == self.item_vectors.shape[1]:
                self.item_vectors[row] = vector
                self.has_vector[row] = True
                self.item_norms[row] = float(np.linalg.norm(vector)) or np.nan
            if cameos:
                self.cameo_owners[row] = cameos
            self.item_creator_ids.append(item["creator_id"])
            self.live_by_creator.setdefault(creator, []).append(row)
            self.item_row[item["item_id"]] = row
            self.item_id_list.append(item["item_id"])  # last: the row is now visible
            added += 1
        if added:
            self.memo.clear()
        return added

    def _item_vectors(self, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        rows = _codes(table["item_id"], self.item_row)
        ok = rows >= 0
        vectors = _matrix(table["embedding"])
        matrix = np.zeros((self.n_items, vectors.shape[1]), dtype=np.float32)
        matrix[rows[ok]] = vectors[ok]
        has = np.zeros(self.n_items, dtype=bool)
        has[rows[ok]] = True
        return matrix, has

    def _user_vectors(self, table: pl.DataFrame, n_users: int
                      ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        from_chat = np.zeros(n_users, dtype=bool)
        rows = _codes(table["user_id"], self.user_row)
        vectors: dict[int, np.ndarray] = {}
        if table.height:
            matrix = _matrix(table["embedding"])
            chat = table["from_chat"].fill_null(False).to_numpy()
            for n, row in enumerate(rows):
                if row >= 0:
                    vectors[int(row)] = matrix[n]
                    from_chat[row] = chat[n]
        return vectors, from_chat

    def _regional(self, popular: pl.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        out = {}
        rows = _codes(popular["item_id"], self.item_row)
        frame = popular.with_columns(pl.Series("row", rows)).filter(pl.col("row") >= 0)
        for (region,), part in frame.sort("rank").group_by("region", maintain_order=True):
            out[self.region_code[region]] = (part["row"].to_numpy(), part["score"].to_numpy())
        return out

    def _by_country(self, popular: pl.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """A country's list: the best score each item has in any of its regions."""
        rows = _codes(popular["item_id"], self.item_row)
        frame = (popular.with_columns(pl.Series("row", rows),
                                      pl.col("region").str.split("-").list.first()
                                      .alias("country"))
                 .filter((pl.col("row") >= 0) & (pl.col("country") != "unknown"))
                 .group_by("country", "row").agg(pl.col("score").max())
                 .sort(["country", "score", "row"], descending=[False, True, False]))
        return {country: (part["row"].to_numpy(), part["score"].to_numpy())
                for (country,), part in frame.group_by("country", maintain_order=True)}

    def _global_top(self) -> tuple[np.ndarray, np.ndarray]:
        col = self.item_block_cols.index("item_engagement_decayed")
        decayed = self.item_block[:, col]
        rows = np.flatnonzero(decayed > 0)
        order = np.lexsort((rows, -decayed[rows]))
        return rows[order], decayed[rows[order]]

    def _index(self, directory: Path):  # -> tuple[ItemIndex, np.ndarray] | None
        if not (directory / "meta.json").is_file():
            return None
        from ranking.index import ItemIndex

        try:
            index = ItemIndex.load(directory, checksums=False)  # the manifest's did
        except ReelrankError as exc:  # a damaged artifact: serve without that source
            log.warning("retrieval index %s unusable: %s", directory, exc)
            return None
        rows = _codes(pl.Series(index.ids), self.item_row)
        return index, rows

    def _cameo_people(self, items: pl.DataFrame) -> Csr:
        """Item row -> the people (user rows; -1 for someone the snapshot does not know) in
        its cameo list other than its creator: whose grants the consent filter checks."""
        pairs = (items.select(pl.int_range(pl.len()).alias("row"), "creator_id",
                              pl.col("cameo_user_ids").alias("person"))
                 .explode("person").filter(pl.col("person").is_not_null()
                                           & (pl.col("person") != pl.col("creator_id"))))
        people = _codes(pairs["person"], self.user_row)
        return Csr.build(pairs["row"].to_numpy().astype(np.int64), people, items.height)

    def _ease(self, directory: Path):  # -> tuple[weights, snapshot row -> weight row] | None
        if not (directory / "meta.json").is_file():
            return None
        from ranking.ease import EaseModel

        try:
            model = EaseModel.load(directory, checksums=False)  # the manifest's did
        except ReelrankError as exc:  # a damaged artifact: serve without that source
            log.warning("EASE model %s unusable: %s", directory, exc)
            return None
        to_weight = np.full(self.n_items, -1, dtype=np.int64)
        rows = _codes(model.item_ids, self.item_row)
        to_weight[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
        return model.weights, to_weight, rows

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
        """The collaborative model's score of each of `rows` for `user` (NaN where it has
        none): EASE's x_u B, else the factorised user . item."""
        out = np.full(len(rows), np.nan)
        if user < 0:
            return out
        if self.ease is not None:
            weights, to_weight, _ = self.ease
            seen = to_weight[self.seen.values[self.seen.of(user)]]
            seen = seen[seen >= 0]
            cols = to_weight[np.minimum(rows, len(to_weight) - 1)]
            ok = (cols >= 0) & (rows < len(to_weight))
            if len(seen):
                out[ok] = weights[seen][:, cols[ok]].sum(axis=0)
            return out
        return out

    def _collab_users(self, directory: Path) -> dict[int, np.ndarray]:
        path = directory / "users.parquet"
        if self.collab_index is None or not path.is_file():
            return {}
        table = pl.read_parquet(path)
        rows = _codes(table["user_id"], self.user_row)
        vectors = _matrix(table["vector"])
        return {int(r): vectors[n] for n, r in enumerate(rows) if r >= 0}
