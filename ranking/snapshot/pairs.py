"""Arrays of the pair feature blocks (user x creator, user x topic, region x item): CSR by
the left key, a matrix of the pairs' features, then a defaults row (a pair with no history)
and an all-NaN row (no key at all: an item without a topic has no user x topic features)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from ranking.snapshot.arrays import Csr, codes, with_defaults
from ranking.snapshot.format import ENTITY_FILES

__all__ = ["PAIR_BLOCKS", "pair_arrays"]

Read = Callable[..., pl.DataFrame]

# block -> (left key column, right key column)
PAIR_BLOCKS = {"user_creator": ("user_id", "creator_id"), "user_topic": ("user_id", "topic"),
               "region_item": ("region", "item_id")}


def pair_arrays(read: Read, defaults: dict[str, dict[str, object]], *, user_row: dict,
                topic_code: dict, item_row: dict, region_code: dict
                ) -> tuple[dict[str, np.ndarray], dict]:
    right_codes = {"user_creator": user_row, "user_topic": topic_code, "region_item": item_row}
    arrays: dict[str, np.ndarray] = {}
    cols_of: dict[str, list[str]] = {}
    for name, (key, other) in PAIR_BLOCKS.items():
        frame = read(ENTITY_FILES[name])
        left = region_code if key == "region" else user_row
        k, v = codes(frame[key], left), codes(frame[other], right_codes[name])
        keep = (k >= 0) & (v >= 0)
        frame = frame.filter(pl.Series(keep))
        cols = [c for c in frame.columns if c not in (key, other, "as_of")]
        matrix = with_defaults(frame, cols, defaults[name])
        csr = Csr.build(k[keep], v[keep], len(left), np.arange(frame.height))
        arrays.update({f"pair.{name}.ptr": csr.ptr, f"pair.{name}.values": csr.values,
                       f"pair.{name}.rows": csr.rows,
                       f"pair.{name}.matrix": np.vstack([matrix,
                                                         np.full((1, len(cols)), np.nan)])})
        cols_of[name] = cols
    return arrays, {"pair_cols": cols_of}
