"""A snapshot's arrays, computed once when it is written and mapped by every process that
serves it.

`compute(read, ids, defaults)` turns the snapshot's Parquet tables into every numeric array
ranking reads (by item, user, pair, list), plus a little metadata (column names, topic,
region and country names). The writer runs it once and `freeze` stores each array as an
`.npy` file under `arrays/` (listed in the manifest like any file); `thaw` maps them
read-only, so N server processes on one host share one copy in the page cache, and loading
costs what building the ids costs. A snapshot without `arrays/` (written by hand, or by an
older writer) is computed in the process instead.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from ranking.snapshot.graph import graph_arrays
from ranking.snapshot.ids import Ids, load_ids
from ranking.snapshot.items import item_arrays
from ranking.snapshot.learned import learned_arrays
from ranking.snapshot.pairs import pair_arrays
from ranking.snapshot.popular import popular_arrays
from ranking.snapshot.users import user_arrays
from ranking.snapshot.vectors import collab_user_arrays, vector_arrays

__all__ = ["ARRAYS", "compute", "freeze", "freeze_tables", "thaw"]

ARRAYS = "arrays"
_META = "meta.json"

Read = Callable[..., pl.DataFrame]


def compute(directory: Path, read: Read, ids: Ids, defaults: dict[str, dict[str, object]]
            ) -> tuple[dict[str, np.ndarray], dict]:
    """Every array of the snapshot in `directory`, and its metadata."""
    countries = sorted({c for c in ids.user_country if c}
                       | set(read("items.parquet", columns=["creator_country"])
                             ["creator_country"].drop_nulls().to_list()) - {""})
    country_code = {c: n for n, c in enumerate(countries)}
    arrays, meta = item_arrays(read, ids, defaults, country_code)
    users, user_meta = user_arrays(read, ids, defaults, country_code)
    arrays.update(users)
    meta.update(user_meta, countries=countries)
    topic_code = {t: n for n, t in enumerate(meta["topics"])}
    region_code = {r: n for n, r in enumerate(meta["regions"])}
    pairs, pair_meta = pair_arrays(read, defaults, user_row=ids.user_row, topic_code=topic_code,
                                   item_row=ids.item_row, region_code=region_code)
    arrays.update(pairs)
    meta.update(pair_meta)
    arrays.update(vector_arrays(read, item_row=ids.item_row, user_row=ids.user_row))
    arrays.update(graph_arrays(read, user_row=ids.user_row, item_row=ids.item_row,
                               item_creator=arrays["item_creator"],
                               item_created_s=arrays["item_created_s"]))
    decayed = arrays["item_block"][:, meta["item_block_cols"].index("item_engagement_decayed")]
    arrays.update(popular_arrays(read, item_row=ids.item_row, region_code=region_code,
                                 country_code=country_code, decayed=decayed))
    if (directory / "indexes" / "collaborative" / "meta.json").is_file():
        arrays.update(collab_user_arrays(directory / "indexes" / "collaborative",
                                         ids.user_row))
    arrays.update(learned_arrays(directory / "indexes" / "learned", ids.user_row, ids.item_row))
    return arrays, meta


def freeze_tables(directory: Path, defaults: dict[str, dict[str, object]]) -> None:
    """Compute the arrays of the tables in `directory` and freeze them (replacing any)."""
    def read(name: str, columns: list[str] | None = None) -> pl.DataFrame:
        return pl.read_parquet(directory / name, columns=columns)

    freeze(directory, *compute(directory, read, load_ids(read), defaults))


def freeze(directory: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write `arrays` and `meta` under `directory/arrays/` (before the manifest is made)."""
    out = directory / ARRAYS
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name} holds Python objects; it cannot be mapped")
        np.save(out / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    (out / _META).write_text(json.dumps(meta))


def thaw(directory: Path) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays under `directory/arrays/`, mapped read-only (None when there are none)."""
    root = directory / ARRAYS
    if not (root / _META).is_file():
        return None
    # Plain ndarray views of the maps: indexing an `np.memmap` goes through Python-level
    # `__getitem__`/`__array_finalize__` (about 0.8 ms of a request's few); a view keeps the
    # mapping alive (its base) and indexes at C speed.
    arrays = {path.name[:-len(".npy")]:
              np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
              for path in root.glob("*.npy")}
    return arrays, json.loads((root / _META).read_text())
