"""Tiny logs for the model tests, built from a seed."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest


def sequential_log(n_users: int = 200, n_items: int = 60, length: int = 16, seed: int = 0,
                   shuffle_time: bool = False, bunch: bool = False) -> pl.DataFrame:
    """Each user walks a ring of items one step at a time from a random start: the next item
    is always the successor of the last, so order carries (almost) everything. `shuffle_time`
    permutes each user's timestamps, `bunch` stamps every row with one time."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        ts = np.arange(length, dtype=np.int64) * 60 + u
        if shuffle_time:
            ts = rng.permutation(ts)
        for step in range(length):
            rows.append((u, (start + step) % n_items, 0 if bunch else int(ts[step])))
    return pl.DataFrame(rows, schema=["user_id", "item_id", "ts"], orient="row")


@pytest.fixture
def seq_frame() -> pl.DataFrame:
    return sequential_log()
