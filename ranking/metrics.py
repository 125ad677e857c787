"""Ranking metrics over many query groups at once (Polars, no Python loop per group).

Conventions (stated because papers differ): gains are exponential, 2^label - 1; discounts
are 1 / log2(rank + 1) with ranks from 1; a group whose ideal DCG is 0 (nothing relevant)
is left out of NDCG rather than counted as 0 or 1; ties in score break by item id so a
metric never depends on input order.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["coverage", "ndcg_at_k", "novelty", "recall_at_k"]


def _ranked(frame: pl.DataFrame, group: Sequence[str], score: str, item: str) -> pl.DataFrame:
    return frame.sort([*group, score, item], descending=[*([False] * len(group)), True, False]
                      ).with_columns(pl.int_range(1, pl.len() + 1).over(group).alias("_rank"))


def ndcg_at_k(frame: pl.DataFrame, k: int, *, group: Sequence[str], score: str, label: str,
              item: str = "item_id") -> float:
    """Mean NDCG@k over groups with at least one positive label."""
    ranked = _ranked(frame, group, score, item)
    gain = (2.0 ** pl.col(label) - 1.0)
    dcg = ranked.filter(pl.col("_rank") <= k).group_by(group).agg(
        (gain / (pl.col("_rank") + 1).log(2)).sum().alias("dcg"))
    ideal = frame.sort([*group, label], descending=[*([False] * len(group)), True]).with_columns(
        pl.int_range(1, pl.len() + 1).over(group).alias("_rank")
    ).filter(pl.col("_rank") <= k).group_by(group).agg(
        (gain / (pl.col("_rank") + 1).log(2)).sum().alias("idcg"))
    joined = ideal.filter(pl.col("idcg") > 0).join(dcg, on=list(group), how="left")
    if joined.is_empty():
        return float("nan")
    return float(joined.select((pl.col("dcg").fill_null(0) / pl.col("idcg")).mean()).item())


def recall_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, *, user: str = "user_id",
                item: str = "item_id", rank: str = "rank") -> float:
    """Mean over users with any relevant item of |top-k ∩ relevant| / |relevant|."""
    top = recommended.filter(pl.col(rank) <= k).select(user, item)
    hits = relevant.join(top, on=[user, item], how="semi").group_by(user).len("hits")
    per_user = relevant.group_by(user).len("relevant").join(hits, on=user, how="left")
    if per_user.is_empty():
        return float("nan")
    return float(per_user.select((pl.col("hits").fill_null(0) / pl.col("relevant")).mean()).item())


def coverage(recommended: pl.DataFrame, catalog_size: int, k: int, *, item: str = "item_id",
             rank: str = "rank") -> float:
    """Share of the catalog that appears in anyone's top k."""
    shown = recommended.filter(pl.col(rank) <= k)[item].n_unique()
    return shown / catalog_size if catalog_size else float("nan")


def novelty(recommended: pl.DataFrame, popularity: pl.DataFrame, k: int, *, item: str = "item_id",
            rank: str = "rank") -> float:
    """Mean self-information -log2(p(item)) of top-k items, p = share of users who engaged
    the item in training (unseen items get the smallest observed p: most novel, finite)."""
    floor = popularity["p"].filter(popularity["p"] > 0).min() or 1.0
    top = recommended.filter(pl.col(rank) <= k).join(popularity, on=item, how="left")
    return float(top.select((-pl.col("p").fill_null(floor).clip(lower_bound=floor).log(2)).mean()
                            ).item())
