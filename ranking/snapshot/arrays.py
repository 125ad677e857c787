"""The shapes a loaded snapshot is made of: id -> row maps, CSR lists per key, and float64
feature matrices with a defaults row. Every loader codes ids into rows with these."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["Csr", "IdRows", "codes", "matrix", "with_defaults"]


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

    @classmethod
    def of(cls, ids: list[object]) -> IdRows:
        return cls((i, n) for n, i in enumerate(ids))


def codes(ids: pl.Series, index: dict[object, int]) -> np.ndarray:
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


def matrix(vectors: pl.Series) -> np.ndarray:
    """A list or fixed-size array column of equal-length vectors as float32 (n, dim)."""
    if vectors.len() == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = vectors.arr.explode() if isinstance(vectors.dtype, pl.Array) else vectors.explode()
    return flat.cast(pl.Float32).to_numpy().reshape(vectors.len(), -1)


def with_defaults(frame: pl.DataFrame, columns: list[str], defaults: dict[str, object]
                  ) -> np.ndarray:
    """`frame[columns]` as float64 with one more row at the end holding the defaults."""
    body = frame.select(columns).cast(pl.Float64).to_numpy() if frame.height else \
        np.empty((0, len(columns)))
    tail = np.array([[np.nan if defaults.get(c) is None else float(defaults[c])
                      for c in columns]])
    return np.ascontiguousarray(np.vstack([body, tail]))
