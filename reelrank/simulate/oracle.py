"""The oracle: expected graded relevance of (user, item) pairs under the ground truth.

Offline evaluation ranks by this instead of by the noisy log. It is a pure function of the
truth tables and the app-facing tables (for creator, duration, countries and follows), with
no randomness.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from .truth import TruthModel, expected_grade, utility

__all__ = ["expected_relevance", "world_relevance"]

_CHUNK = 200_000


def _follow_flags(follows: pl.DataFrame, as_of: datetime | None) -> pl.DataFrame:
    """(user_id, creator_id) pairs that follow, as of a moment if one is given."""
    lazy = follows.lazy()
    if as_of is not None:
        lazy = lazy.filter(pl.col("created_at") <= as_of)
    return (lazy.select(pl.col("follower_id").alias("user_id"),
                        pl.col("followee_id").alias("_creator"))
            .unique().with_columns(pl.lit(True).alias("_follows")).collect())


def _interest_matrix(truth_users: pl.DataFrame) -> np.ndarray:
    """The (users, topics) float32 matrix behind the `interests` list column."""
    lengths = truth_users["interests"].list.len().unique()
    if lengths.len() > 1:
        raise ValueError(f"interest vectors must all have one length, got {lengths.to_list()}")
    width = int(lengths[0]) if lengths.len() else 1
    flat = truth_users["interests"].explode().cast(pl.Float32).to_numpy()
    return flat.reshape(truth_users.height, width) if truth_users.height else \
        np.zeros((0, width), np.float32)


def _pair_features(truth_users: pl.DataFrame, truth_items: pl.DataFrame,
                   pairs: pl.DataFrame, follows: pl.DataFrame, users: pl.DataFrame,
                   items: pl.DataFrame, as_of: datetime | None) -> pl.DataFrame:
    """One row per known pair (`_row` = its position in `pairs`) with the model's inputs."""
    item_info = (truth_items.select("item_id", "topic", "quality")
                 .join(items.select("item_id", pl.col("creator_id").alias("_creator"),
                                    "duration_s"), on="item_id", how="left"))
    country = users.select("user_id", "country")
    return (
        pairs.select("user_id", "item_id").with_row_index("_row")
        .join(truth_users.select("user_id").with_row_index("_u"), on="user_id", how="left",
              maintain_order="left")
        .join(item_info, on="item_id", how="left", maintain_order="left")
        .join(country.rename({"country": "_uc"}), on="user_id", how="left",
              maintain_order="left")
        .join(country.rename({"user_id": "_creator", "country": "_cc"}), on="_creator",
              how="left", maintain_order="left")
        .join(_follow_flags(follows, as_of), on=["user_id", "_creator"], how="left",
              maintain_order="left")
        .filter(pl.col("_u").is_not_null() & pl.col("topic").is_not_null()
                & pl.col("duration_s").is_not_null())
        .sort("_row")
    )


def expected_relevance(truth_users: pl.DataFrame, truth_items: pl.DataFrame,
                       pairs: pl.DataFrame, follows: pl.DataFrame, *, users: pl.DataFrame,
                       items: pl.DataFrame, model: TruthModel | None = None,
                       as_of: datetime | None = None) -> pl.DataFrame:
    """`pairs` (user_id, item_id, ...) plus a Float64 `expected_relevance` column.

    The value is E[grade] with skip=0, view=1, complete=2, like/comment=3, share/remix=4.
    `follows` should describe the graph at the moment being evaluated; `as_of` filters it by
    `created_at`. Pairs with an unknown user or item get null. Row order is kept.
    """
    model = model or TruthModel()
    interests = _interest_matrix(truth_users)
    frame = _pair_features(truth_users, truth_items, pairs, follows, users, items, as_of)
    u_idx = frame["_u"].cast(pl.Int64).to_numpy()
    topic = frame["topic"].cast(pl.Int64).to_numpy()
    if topic.size and (topic.min() < 0 or topic.max() >= interests.shape[1]):
        raise ValueError(f"item topics must lie in 0..{interests.shape[1] - 1}, got "
                         f"{topic.min()}..{topic.max()}")
    quality = frame["quality"].cast(pl.Float32).to_numpy()
    duration = frame["duration_s"].cast(pl.Float32).to_numpy()
    follows_flag = frame["_follows"].fill_null(False).to_numpy()
    same = (frame["_uc"] == frame["_cc"]).fill_null(False).to_numpy()
    grade = np.full(pairs.height, np.nan)
    rows = frame["_row"].cast(pl.Int64).to_numpy()
    for lo in range(0, frame.height, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        u = utility(model, interests[u_idx[sl], topic[sl]], quality[sl], follows_flag[sl],
                    same[sl])
        grade[rows[sl]] = expected_grade(model, u, duration[sl])
    return pairs.with_columns(pl.Series("expected_relevance", grade).fill_nan(None))


def world_relevance(world_dir: Path, pairs: pl.DataFrame, *,
                    as_of: datetime | None = None) -> pl.DataFrame:
    """`expected_relevance` for a world written by `simulate`, reading what it needs.

    Uses the world's final follow graph unless `as_of` picks an earlier moment.
    """
    world_dir = Path(world_dir)
    return expected_relevance(
        pl.read_parquet(world_dir / "truth" / "users.parquet"),
        pl.read_parquet(world_dir / "truth" / "items.parquet"),
        pairs,
        pl.read_parquet(world_dir / "follows.parquet"),
        users=pl.read_parquet(world_dir / "users.parquet", columns=["user_id", "country"]),
        items=pl.read_parquet(world_dir / "items.parquet",
                              columns=["item_id", "creator_id", "duration_s"]),
        model=TruthModel.from_json(world_dir / "truth" / "model.json"),
        as_of=as_of,
    )
