"""The second stage: candidates pooled from every source, each source's score and rank as
features beside clock-relative popularity, age and user activity, ranked by LightGBM
LambdaMART and gated on validation.

Training examples come from a carve of the training log (`tuning.carve`): sources fit on the
part before the cut produce the candidates and features, the held-out part gives the labels, so
a feature never sees its label. The gate (in `pipeline`) cross-fits two halves of the
validation users and compares against the best single source on the same users: the learned
ranker is used only where it wins there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ranking.models._base import BlockScorer, bounded
from ranking.models.interactions import Interactions
from ranking.models.popularity import TimeIndex

__all__ = ["Candidates", "Stage2Params", "features", "fit_ranker", "pool", "rank_candidates"]

_WINDOWS = (0.002, 0.01, 0.05)  # shares of the log's events around the reference time


@dataclass(frozen=True)
class Stage2Params:
    per_source: int = 100
    # Small, slow trees: on MovieLens-100k's ~470 training users per fold, 31 leaves at 0.05
    # stopped after a handful of rounds and lost to the best single source.
    num_leaves: int = 7
    learning_rate: float = 0.02
    min_data_in_leaf: int = 200
    max_rounds: int = 800  # the gate also tries 1/8, 1/4 and 1/2 of it
    feature_fraction: float = 0.8
    threads: int = 2
    max_train_rows: int = 2_000_000  # ~40 features x 4 bytes: 320 MB of training matrix

    def __post_init__(self) -> None:
        bounded(self, "per_source", 1, 5000, integer=True)
        bounded(self, "num_leaves", 2, 1024, integer=True)
        bounded(self, "learning_rate", 1e-4, 1.0)
        bounded(self, "min_data_in_leaf", 1, 100_000, integer=True)
        bounded(self, "max_rounds", 1, 10_000, integer=True)
        bounded(self, "feature_fraction", 0.05, 1.0)
        bounded(self, "threads", 1, 256, integer=True)
        bounded(self, "max_train_rows", 1000, 10**9, integer=True)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Pairs sorted by user; `ranks[name]` is each pair's rank in that source (1 = best),
    `per_source + 1` where the source did not propose it."""

    users: np.ndarray  # int64
    items: np.ndarray  # int64
    ranks: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.users)

    def group_sizes(self) -> np.ndarray:
        _, counts = np.unique(self.users, return_counts=True)
        return counts


def pool(sources: Mapping[str, BlockScorer], users: np.ndarray, per_source: int,
         n_items: int) -> Candidates:
    """The union of every source's top `per_source` unseen items for each user."""
    users = np.asarray(users, dtype=np.int64)
    keyed = {}
    for name, model in sources.items():
        top, scores = model.top(users, per_source)
        keys = (np.repeat(users, top.shape[1]) * n_items + top.ravel()).astype(np.int64)
        ranks = np.tile(np.arange(1, top.shape[1] + 1), len(users))
        real = np.isfinite(scores.ravel())  # -inf: a held item, listed only when none is left
        keyed[name] = (keys[real], ranks[real])
    keys = np.unique(np.concatenate([k for k, _ in keyed.values()]))
    ranks = {}
    for name, (k, r) in keyed.items():
        order = np.argsort(k)
        k, r = k[order], r[order]
        at = np.clip(np.searchsorted(k, keys), 0, len(k) - 1)
        ranks[name] = np.where(k[at] == keys, r[at], per_source + 1).astype(np.float32)
    return Candidates(keys // n_items, keys % n_items, ranks)


def _stage_counts(log: Interactions, items: np.ndarray, users: np.ndarray) -> np.ndarray:
    """How often each item was taken by anyone at a similar stage of their history: at a
    position within [3/4, 5/4] of the user's own history length (onboarding lists, the order a
    catalogue is shown in, what people reach after n items)."""
    pos = np.arange(len(log)) - log.user_starts[log.users]
    span = int(pos.max()) + 2 if len(log) else 1
    keys = np.sort(log.items.astype(np.int64) * span + pos)
    length = np.diff(log.user_starts)[users]
    lo = np.minimum(np.floor(0.75 * length), span - 1).astype(np.int64)
    hi = np.minimum(np.ceil(1.25 * length), span - 1).astype(np.int64)
    a = np.searchsorted(keys, items * span + lo, side="left")
    b = np.searchsorted(keys, items * span + hi, side="right")
    return (b - a).astype(np.float32)


def features(cands: Candidates, sources: Mapping[str, BlockScorer], log: Interactions,
             ref: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """float32 (pairs, features) and the feature names. `log` is what the sources were fit on;
    `ref` is each user's reference time."""
    index, seen = TimeIndex.of(log), log.matrix
    cols, names = [], []
    for name, model in sources.items():
        cols += [model.score(cands.users, cands.items), cands.ranks[name]]
        names += [f"{name}_score", f"{name}_rank"]
    n = max(len(index), 1)
    r = ref[cands.users]
    all_time = np.bincount(index.items_by_time, minlength=index.n_items).astype(np.float32)
    cols.append(np.log1p(all_time[cands.items]))
    names.append("pop_all")
    for share in _WINDOWS:
        for forward in (False, True):
            lo, hi = index.window(r, share, forward)
            cols.append(np.log1p(index.counts(cands.items, lo, hi)))
            names.append(f"pop_{'next' if forward else 'last'}_{share:g}")
    pos_ref = index.position(r)
    first = index.first_ts[cands.items]
    last = index.last_ts[cands.items]
    cols += [(pos_ref - index.position(first)) / n, (pos_ref - index.position(last)) / n]
    names += ["item_age", "item_since_last"]
    history = np.diff(seen.indptr).astype(np.float32)
    log_pop = np.log1p(all_time)
    user_pop = np.asarray(seen @ log_pop).ravel() / np.maximum(history, 1)
    cols += [np.log1p(history[cands.users]), user_pop[cands.users],
             log_pop[cands.items] - user_pop[cands.users],
             (index.position(np.full(1, index.ts_sorted[-1] if n else 0.0))[0]
              - pos_ref) / n]
    names += ["user_history", "user_mean_pop", "item_pop_vs_user", "user_idle"]
    cols.append(np.log1p(_stage_counts(log, cands.items, cands.users)))
    names.append("pop_same_stage")
    return np.column_stack(cols).astype(np.float32), names


def fit_ranker(x: np.ndarray, y: np.ndarray, groups: np.ndarray, params: Stage2Params,
               seed: int, rounds: int | None = None):
    """LambdaMART (LightGBM lambdarank) over per-user groups (rows sorted by user, `groups`
    their sizes), `rounds` boosting rounds (default `max_rounds`); deterministic for a seed."""
    import lightgbm as lgb

    if len(x) != len(y) or int(np.sum(groups)) != len(y):
        raise ValueError(f"{len(x)} feature rows, {len(y)} labels and groups summing to "
                         f"{int(np.sum(groups))} must agree")
    config = {"objective": "lambdarank", "num_leaves": params.num_leaves,
              "learning_rate": params.learning_rate, "min_data_in_leaf": params.min_data_in_leaf,
              "feature_fraction": params.feature_fraction, "num_threads": params.threads,
              "seed": seed, "deterministic": True, "force_row_wise": True, "verbose": -1}
    return lgb.train(config, lgb.Dataset(x, y, group=groups),
                     num_boost_round=rounds or params.max_rounds)


def rank_candidates(cands: Candidates, scores: np.ndarray, k: int,
                    users: np.ndarray | None = None) -> np.ndarray:
    """int64 (users, k): each user's k best candidates by score, -1 where fewer. Rows follow
    `users` (default: the users that have candidates, ascending)."""
    order = np.lexsort((cands.items, -scores, cands.users))
    cu, items = cands.users[order], cands.items[order]
    if users is None:
        users = np.unique(cu)
    users = np.asarray(users, dtype=np.int64)
    starts = np.searchsorted(cu, users, side="left")
    ends = np.searchsorted(cu, users, side="right")
    out = np.full((len(users), k), -1, dtype=np.int64)
    for row, (s, e) in enumerate(zip(starts, ends)):
        m = min(e - s, k)
        out[row, :m] = items[s:s + m]
    return out
