"""Item vector index: inner-product nearest neighbours over FAISS, keyed by the caller's ids.

Vectors are L2-normalised, so inner product is cosine similarity. Small catalogs get an exact
`IndexFlatIP`; from `IndexParams.exact_below` items on, an `IndexHNSWFlat` graph. FAISS HNSW
with efSearch < k loses recall and can pad results with -1 (measured on 20k x 64, k=500:
efSearch=16 left 58 of 500 slots as -1 and recall 0.20; efSearch=k gave 0.94), so every
search runs with efSearch = max(ef_search, k + excluded); any -1 left is dropped.

The same index serves content embeddings (`item_embeddings`) and the collaborative vectors
`ranking.collaborative.collaborative_vectors` learns from co-engagement, so every ANN candidate source shares one
search, one id mapping and one on-disk format.

On disk an index is a directory of `index.faiss`, `ids.parquet` and `meta.json` (kind, dim,
count, id type, params, and each file's size and sha256). It is written into a temporary
sibling directory and renamed into place, and `load` checks every file against `meta.json`,
so a reader sees a whole index or a `ReelrankError` naming the file that is wrong.

`faiss.omp_set_num_threads` is process-wide: `build`, `load` and `search` set it to the
index's `threads`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path

import faiss
import numpy as np
import polars as pl
import pyarrow as pa

from ranking.index_params import IndexParams
from reelrank.checksums import file_sha256
from reelrank.errors import ReelrankError

__all__ = [
    "MAX_DIM",
    "IndexParams",
    "ItemId",
    "ItemIndex",
]

ItemId = int | str

_FORMAT = 1
_INDEX_FILE = "index.faiss"
_IDS_FILE = "ids.parquet"
_META_FILE = "meta.json"
_UNIT_TOLERANCE = 1e-3  # |norm - 1| allowed: float32 rounding and DuckDB round trips
MAX_DIM = 4096


def _id_array(item_ids: Sequence[ItemId] | np.ndarray | pl.Series | pa.Array) -> np.ndarray:
    """int64 or object-of-str numpy ids, unique and non-null; `.tolist()` gives Python ids."""
    if isinstance(item_ids, pl.Series):
        series = item_ids
    elif isinstance(item_ids, pa.Array | pa.ChunkedArray):
        series = pl.Series(item_ids)
    else:
        try:
            series = pl.Series(values=item_ids if isinstance(item_ids, np.ndarray)
                               else list(item_ids), strict=True)
        except TypeError as exc:
            raise ValueError(f"item ids must be all int or all str: {exc}") from exc
    if series.null_count():
        raise ValueError(f"item ids contain {series.null_count()} null(s)")
    if series.dtype.is_integer():
        try:
            values = series.cast(pl.Int64, strict=True).to_numpy()
        except pl.exceptions.InvalidOperationError as exc:
            raise ValueError("integer item ids must fit in int64") from exc
    elif series.dtype == pl.String:
        values = np.array(series.to_list(), dtype=object)
    else:
        raise ValueError(f"item ids must be int or str, got {series.dtype}")
    if series.n_unique() != len(series):
        dupe = series.filter(series.is_duplicated()).item(0)
        raise ValueError(f"item ids must be unique; {dupe!r} appears more than once")
    return values


def _unit_rows(vectors: np.ndarray, what: str) -> np.ndarray:
    """`vectors` as C-contiguous float32, refused unless finite and L2-normalised."""
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2:
        raise ValueError(f"{what} must be a 2-D numpy array, got "
                         f"{getattr(vectors, 'shape', type(vectors).__name__)}")
    if not 1 <= vectors.shape[1] <= MAX_DIM:
        raise ValueError(f"{what} must have 1..{MAX_DIM} columns, got {vectors.shape[1]}")
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))
    bad = ~(np.abs(norms - 1) <= _UNIT_TOLERANCE)  # NaN or inf rows are bad too
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} must be finite and L2-normalised; {int(bad.sum())} row(s) "
                         f"are not (row {row} has norm {norms[row]})")
    return out


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ItemIndex:
    """Nearest items by inner product, returned as the ids the index was built with."""

    def __init__(self, index: faiss.Index, ids: np.ndarray, kind: str, params: IndexParams):
        # Internal: use `build` or `load`, which check what they are given.
        self._index, self._ids, self._kind, self._params = index, ids, kind, params

    @property
    def kind(self) -> str:
        """'exact' (IndexFlatIP) or 'hnsw' (IndexHNSWFlat)."""
        return self._kind

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def count(self) -> int:
        return len(self._ids)

    @property
    def params(self) -> IndexParams:
        return self._params

    @property
    def ids(self) -> list[ItemId]:
        return self._ids.tolist()

    def __len__(self) -> int:
        return self.count

    @classmethod
    def build(cls, item_ids: Sequence[ItemId] | np.ndarray | pl.Series | pa.Array,
              vectors: np.ndarray, params: IndexParams) -> ItemIndex:
        """Index `vectors[i]` under `item_ids[i]`; neither input is modified."""
        ids = _id_array(item_ids)
        matrix = _unit_rows(vectors, "vectors") if len(vectors) else np.ascontiguousarray(
            vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] < 1:
            raise ValueError(f"vectors must be (n, d) with d >= 1, got {matrix.shape}")
        if len(ids) != len(matrix):
            raise ValueError(f"{len(ids)} item ids but {len(matrix)} vectors")
        faiss.omp_set_num_threads(params.threads)
        dim = matrix.shape[1]
        if len(ids) < params.exact_below:
            kind, index = "exact", faiss.IndexFlatIP(dim)
        else:
            kind, index = "hnsw", faiss.IndexHNSWFlat(dim, params.hnsw_m,
                                                      faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.ef_construction
        if len(matrix):
            index.add(matrix)
        return cls(index, ids, kind, params)

    def search(self, queries: np.ndarray, k: int,
               exclude: Sequence[Sequence[ItemId]] | None = None
               ) -> tuple[list[list[ItemId]], np.ndarray]:
        """The best `k` items per query row, best first, and their inner products.

        `exclude[i]` (optional) lists ids never returned for query i (e.g. already seen).
        `ids[i]` can be shorter than k when the index holds fewer items; `scores` is
        (m, min(k, count)) float32 and NaN where `ids[i]` ran out.
        """
        if not isinstance(queries, np.ndarray) or queries.ndim != 2 \
                or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be a numpy array of shape (m, {self.dim}), got "
                             f"{getattr(queries, 'shape', type(queries).__name__)}")
        if type(k) is not int or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if exclude is not None and len(exclude) != len(queries):
            raise ValueError(f"exclude has {len(exclude)} entries for {len(queries)} queries")
        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        if not np.isfinite(matrix).all():
            raise ValueError("queries contain NaN or infinite values")
        keep = min(k, self.count)
        scores = np.full((len(matrix), keep), np.nan, dtype=np.float32)
        if keep == 0 or len(matrix) == 0:
            return [[] for _ in range(len(matrix))], scores
        banned = [set(row) for row in exclude] if exclude is not None else []
        # Over-fetch by the longest exclusion list so k survive the filtering.
        fetch = min(self.count, k + max(map(len, banned), default=0))
        faiss.omp_set_num_threads(self._params.threads)
        if self._kind == "hnsw":
            found_scores, labels = self._index.search(matrix, fetch, params=(
                faiss.SearchParametersHNSW(efSearch=max(self._params.ef_search, fetch))))
        else:
            found_scores, labels = self._index.search(matrix, fetch)
        ids: list[list[ItemId]] = []
        for row, (row_labels, row_scores) in enumerate(zip(labels, found_scores, strict=True)):
            valid = row_labels >= 0
            row_ids, row_scores = self._ids[row_labels[valid]].tolist(), row_scores[valid]
            if banned and banned[row]:
                kept = [j for j, item in enumerate(row_ids) if item not in banned[row]][:keep]
                row_ids, row_scores = [row_ids[j] for j in kept], row_scores[kept]
            ids.append(row_ids[:keep])
            scores[row, :len(ids[-1])] = row_scores[:keep]
        return ids, scores

    def search_positions(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The serving fast path: (positions into `ids`, -1 where none; scores) for float32
        unit queries, without per-id Python objects. Same search and efSearch as `search`."""
        fetch = min(int(k), self.count)
        if fetch == 0 or len(queries) == 0:
            return (np.full((len(queries), 0), -1, dtype=np.int64),
                    np.zeros((len(queries), 0), dtype=np.float32))
        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        if self._kind == "hnsw":
            scores, labels = self._index.search(matrix, fetch, params=(
                faiss.SearchParametersHNSW(efSearch=max(self._params.ef_search, fetch))))
        else:
            scores, labels = self._index.search(matrix, fetch)
        return labels, scores

    def save(self, directory: Path | str) -> Path:
        """Write the index to `directory`, replacing a previous index there. A reader sees
        the old index, none (a clear error), or the new one; never a mix of files."""
        target = Path(directory)
        if target.exists() and not (target.is_dir() and (
                (target / _META_FILE).is_file() or not any(target.iterdir()))):
            raise ReelrankError(f"refusing to replace {target}: it is not an item index")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
        try:
            faiss.write_index(self._index, str(staging / _INDEX_FILE))
            pl.DataFrame({"item_id": pl.Series(self._ids.tolist(), dtype=self._id_dtype())}
                         ).write_parquet(staging / _IDS_FILE)
            files = {name: {"bytes": (staging / name).stat().st_size,
                            "sha256": file_sha256(staging / name)}
                     for name in (_INDEX_FILE, _IDS_FILE)}
            meta = {"format": _FORMAT, "kind": self._kind, "dim": self.dim,
                    "count": self.count, "id_type": self._id_type(),
                    "params": asdict(self._params), "files": files}
            (staging / _META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
            for name in (_INDEX_FILE, _IDS_FILE, _META_FILE, "."):
                _fsync(staging / name)
            if target.exists():
                # A directory cannot be renamed over a non-empty one: move the old index
                # aside first. A reader in between gets a clear "missing" error, never a mix.
                retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
                os.rename(target, retired)
                os.rename(staging, target)
                shutil.rmtree(retired)
            else:
                os.rename(staging, target)
            _fsync(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: Path | str, params: IndexParams | None = None, *,
             checksums: bool = True, mmap: bool = False) -> ItemIndex:
        """Read an index `save` wrote; raises `ReelrankError` naming any missing,
        truncated, corrupt or mismatched file. `checksums=False` skips re-hashing files a
        caller has just verified itself (a serving snapshot's manifest covers them).
        `mmap`: map the stored vectors instead of reading them, so every process on a host
        shares one copy (the file must then stay unchanged, as a published snapshot's does).

        The build-time fields (exact_below, hnsw_m, ef_construction) always come from
        `meta.json`, since they describe the stored graph; `params` may override the
        search-time ones (ef_search, threads).
        """
        root = Path(directory)
        meta = _read_meta(root / _META_FILE)
        for name in (_INDEX_FILE, _IDS_FILE):
            path, want = root / name, meta["files"][name]
            if not path.is_file():
                raise ReelrankError(f"{path}: missing from the item index")
            if path.stat().st_size != want["bytes"] or (
                    checksums and file_sha256(path) != want["sha256"]):
                raise ReelrankError(f"{path}: does not match {_META_FILE} (truncated, "
                                    "corrupt, or from another save)")
        path = root / _INDEX_FILE
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        except RuntimeError as exc:
            raise ReelrankError(f"{path}: FAISS cannot read it: {exc}") from exc
        expected = faiss.IndexHNSWFlat if meta["kind"] == "hnsw" else faiss.IndexFlatIP
        if not isinstance(index, expected) or index.metric_type != faiss.METRIC_INNER_PRODUCT \
                or index.d != meta["dim"] or index.ntotal != meta["count"]:
            raise ReelrankError(f"{path}: holds {type(index).__name__} d={index.d} "
                                f"n={index.ntotal}, but {_META_FILE} says {meta['kind']} "
                                f"d={meta['dim']} n={meta['count']}")
        path = root / _IDS_FILE
        try:
            frame = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ReelrankError(f"{path}: unreadable: {exc}") from exc
        want = pl.Int64 if meta["id_type"] == "int" else pl.String
        if frame.columns != ["item_id"] or frame.schema["item_id"] != want \
                or frame.height != meta["count"]:
            raise ReelrankError(f"{path}: expected {meta['count']} {meta['id_type']} item_id "
                                f"rows, found {frame.schema} with {frame.height} rows")
        stored = meta["params"]
        if params is not None:
            stored = replace(stored, ef_search=params.ef_search, threads=params.threads)
        faiss.omp_set_num_threads(stored.threads)
        return cls(index, _id_array(frame.get_column("item_id")), meta["kind"], stored)

    def _id_type(self) -> str:
        return "int" if self._ids.dtype.kind == "i" else "str"

    def _id_dtype(self) -> type[pl.DataType]:
        return pl.Int64 if self._ids.dtype.kind == "i" else pl.String


def _read_meta(path: Path) -> dict:
    """`meta.json`, checked for shape; `params` becomes an `IndexParams`."""
    if not path.is_file():
        raise ReelrankError(f"{path}: missing; {path.parent} is not a complete item index")
    try:
        meta = json.loads(path.read_text())
        files = meta["files"]
        ok = (meta["format"] == _FORMAT and meta["kind"] in ("exact", "hnsw")
              and meta["id_type"] in ("int", "str") and type(meta["dim"]) is int
              and type(meta["count"]) is int
              and all(type(files[n]["bytes"]) is int and type(files[n]["sha256"]) is str
                      for n in (_INDEX_FILE, _IDS_FILE)))
        names = {f.name for f in fields(IndexParams)}
        if not ok or set(meta["params"]) != names:
            raise ValueError("unexpected fields or values")
        meta["params"] = IndexParams(**meta["params"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReelrankError(f"{path}: not a valid item index description: {exc}") from exc
    return meta
