"""Training the ranker on a Dask cluster: LightGBM's own Dask estimator (`DaskLGBMRanker`)
on the same point-in-time frames as `ranking.ranker.train_ranker`, partitioned by user so
that every query group (user, as_of) sits whole in one partition.

`scheduler`: a Dask scheduler address (`tcp://host:8786`), or `local` for a
`distributed.LocalCluster` of `workers` processes on this machine, started for the fit and
closed after. Each partition is scattered to the workers rather than embedded in the task
graph. The Dask interface has no early stopping; the validation curve is recorded
for every round and the booster is cut at its best round, which is what early stopping
would keep (without stopping at the first plateau). Needs `pip install reelrank[dask]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from itertools import pairwise

import lightgbm as lgb
import numpy as np
import polars as pl

from ranking.ranker import GROUP, RankerParams, TrainedRanker, feature_names
from reelrank.errors import ReelrankError

__all__ = ["train_ranker_dask", "user_partitions"]


def user_partitions(users: np.ndarray, parts: int) -> list[int]:
    """Row counts of at most `parts` consecutive partitions of rows sorted by user, cut only
    where the user changes (a user's rows, so their query groups, stay in one)."""
    n = len(users)
    if n == 0:
        return []
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])  # first row of each user
    wanted = np.linspace(0, n, max(parts, 1) + 1)[1:-1]
    cuts = np.unique(starts[np.clip(np.searchsorted(starts, wanted), 0, len(starts) - 1)])
    cuts = cuts[(cuts > 0) & (cuts < n)]
    edges = np.r_[0, cuts, n]
    return [int(size) for size in np.diff(edges)]


def _arrays(frame: pl.DataFrame, features: Sequence[str], parts: int, client):
    """(X, y, group) as Dask arrays with matching partitions, cut at user boundaries, each
    partition scattered to the cluster (not embedded in the task graph)."""
    import dask.array as da

    ordered = frame.sort(list(GROUP))
    sizes = user_partitions(ordered["user_id"].to_numpy(), parts)
    groups = ordered.group_by(list(GROUP), maintain_order=True).len()["len"].to_numpy()
    matrix = ordered.select(features).cast(pl.Float64).to_numpy()
    labels = ordered["label"].to_numpy()
    # Groups per partition: a partition's rows are whole groups, so cumulative sizes meet.
    bounds = np.cumsum(sizes)
    ends = np.cumsum(groups)
    cut = np.searchsorted(ends, bounds, side="right")
    if int(cut[-1]) != len(groups) or not np.isin(bounds, ends).all():
        raise ReelrankError("a query group would be split across Dask partitions")
    rows = np.r_[0, bounds]
    gcut = np.r_[0, cut]

    def scattered(pieces: list[np.ndarray]):
        futures = client.scatter(pieces)
        return da.concatenate([da.from_delayed(f, shape=p.shape, dtype=p.dtype)
                               for f, p in zip(futures, pieces, strict=True)])

    x = scattered([matrix[a:b] for a, b in pairwise(rows)])
    y = scattered([labels[a:b] for a, b in pairwise(rows)])
    g = scattered([groups[a:b] for a, b in pairwise(gcut)])
    return x, y, g


def train_ranker_dask(train: pl.DataFrame, valid: pl.DataFrame, params: RankerParams,
                      scheduler: str, *, workers: int = 2,
                      features: Sequence[str] | None = None) -> TrainedRanker:
    """Fit on `train` across the cluster at `scheduler`; keep the best round on `valid`."""
    try:
        from distributed import Client, LocalCluster
        from lightgbm.dask import DaskLGBMRanker
    except ImportError as exc:
        raise ReelrankError("training_backend = 'dask' needs Dask: pip install "
                            f"'reelrank[dask]' ({exc})") from exc
    if train.is_empty() or valid.is_empty():
        raise ReelrankError("training needs rows in both the training and validation days")
    chosen = tuple(features or feature_names(train))
    with ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=40))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(scheduler))
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        x, y, g = _arrays(train, chosen, 2 * n_workers, client)
        vx, vy, vg = _arrays(valid, chosen, n_workers, client)
        model = DaskLGBMRanker(
            client=client, objective="lambdarank", num_leaves=params.num_leaves,
            learning_rate=params.learning_rate, min_child_samples=params.min_data_in_leaf,
            colsample_bytree=params.feature_fraction, n_estimators=params.max_rounds,
            random_state=params.seed, deterministic=True, force_row_wise=True,
            num_threads=1, verbose=-1)
        model.fit(x, y, group=g, eval_set=[(vx, vy)], eval_group=[vg],
                  eval_at=[params.eval_at], eval_names=["valid"],
                  feature_name=list(chosen))
        curve = model.evals_result_.get("valid", {}).get(f"ndcg@{params.eval_at}", [])
        full = model.booster_
    best = int(np.argmax(curve)) + 1 if len(curve) else full.current_iteration()
    booster = lgb.Booster(model_str=full.model_to_string(num_iteration=best))
    key = f"ndcg@{params.eval_at}"
    metrics = {"valid_" + key: float(max(curve)) if len(curve) else float("nan"),
               "best_iteration": float(best), "train_rows": float(train.height),
               "valid_rows": float(valid.height), "dask_workers": float(n_workers)}
    return TrainedRanker(booster, chosen, params, metrics)
