"""Validation carving, ranking metrics and small grid searches. Everything here sees only the
training log handed to it: the carve is cut from that log, so test rows cannot reach model
selection.

Two ways the future is asked, mirroring the two standard offline protocols:
- "per_user": each user's last share of interactions (at least one) is held out, so the user's
  reference time is their own last interaction;
- "global": the last share of the whole log by time is held out; users are asked at the cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse

from ranking.models.interactions import Interactions

__all__ = ["Protocol", "Split", "carve", "evaluate", "grid_search", "truth_matrix"]

Protocol = Literal["per_user", "global"]
PROTOCOLS = ("per_user", "global")


@dataclass(frozen=True, eq=False)
class Split:
    """`fit` trains, `truth` (users x items, binary) is what validation asks for; `users` are
    the users with something to find; `ref` is each user's reference time."""

    fit: Interactions
    truth: sparse.csr_matrix
    users: np.ndarray
    ref: np.ndarray
    held_rows: np.ndarray  # bool per row of the log carved: True = held out


def held_mask(log: Interactions, protocol: Protocol, share: float, seed: int) -> np.ndarray:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    starts = log.user_starts
    if protocol == "per_user":
        n = np.diff(starts)
        held = np.where(n >= 2, np.maximum(np.floor(n * share), 1), 0).astype(np.int64)
        pos_from_end = starts[log.users + 1] - 1 - np.arange(len(log))
        return pos_from_end < held[log.users]
    tie = np.random.default_rng(seed).permutation(len(log))
    order = np.lexsort((tie, log.ts))
    mask = np.zeros(len(log), dtype=bool)
    mask[order[len(log) - max(round(share * len(log)), 1):]] = True
    return mask


def truth_matrix(fit: Interactions, held: Interactions) -> sparse.csr_matrix:
    """Held pairs the fit part can be asked about: user and item known to `fit`, and not
    already in the user's fit history (recommending the unseen is the task)."""
    known_user = np.diff(fit.matrix.indptr) > 0
    known_item = np.asarray(fit.matrix.sum(axis=0)).ravel() > 0
    keep = known_user[held.users] & known_item[held.items]
    t = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32),
                           (held.users[keep], held.items[keep])), shape=fit.matrix.shape)
    t.sum_duplicates()
    t.data[:] = 1.0
    t = t - t.multiply(fit.matrix)
    t.eliminate_zeros()
    return t.tocsr()


def carve(log: Interactions, protocol: Protocol, share: float = 0.2, seed: int = 0) -> Split:
    """A validation split cut from `log` the way the protocol cuts the test from the whole."""
    mask = held_mask(log, protocol, share, seed)
    fit, held = log.take(~mask), log.take(mask)
    truth = truth_matrix(fit, held)
    users = np.flatnonzero(np.diff(truth.indptr) > 0).astype(np.int64)
    if protocol == "per_user":
        ref = fit.last_ts()
    else:
        cut = held.ts.min() if len(held) else log.ts.max()
        ref = np.full(log.n_users, float(np.nextafter(cut, -np.inf)))
    ref = np.where(np.isfinite(ref), ref, fit.ts.max() if len(fit) else 0.0)
    return Split(fit, truth, users, ref, mask)


def evaluate(top: np.ndarray, truth: sparse.csr_matrix, users: np.ndarray,
             ks: Sequence[int] = (10, 50)) -> dict[str, float]:
    """Mean NDCG@10 and Recall@k (binary relevance; recall = hits / relevant) over `users`,
    whose ranked item codes are the rows of `top`."""
    if len(top) != len(users):
        raise ValueError(f"top has {len(top)} rows for {len(users)} users")
    rel = truth[users]
    n_rel = np.diff(rel.indptr)
    if (n_rel == 0).any():
        raise ValueError("every evaluated user needs at least one relevant item")
    kmax = max(max(ks), 10)
    hit = np.zeros((len(users), kmax), dtype=bool)  # a shorter list counts as misses
    width = min(top.shape[1], kmax)
    for row in range(len(users)):
        hit[row, :width] = np.isin(top[row, :width],
                                   rel.indices[rel.indptr[row]:rel.indptr[row + 1]])
    disc = 1.0 / np.log2(np.arange(2, kmax + 2))
    dcg = (hit[:, :10] * disc[:10]).sum(axis=1)
    idcg = np.cumsum(disc[:10])[np.minimum(n_rel, 10) - 1]
    out = {"ndcg@10": float(np.mean(dcg / idcg))}
    for k in ks:
        out[f"recall@{k}"] = float(np.mean(hit[:, :k].sum(axis=1) / n_rel))
    return out


def grid_search(fit_fn: Callable, grid: Sequence, split: Split, seed: int = 0,
                metric: str = "ndcg@10") -> tuple[object, object, list[tuple[object, dict]]]:
    """Fit each params of `grid` on `split.fit`, score its top 50 on validation; returns the
    best params, its model and the whole table (params, metrics)."""
    if not grid:
        raise ValueError("empty grid")
    table, best = [], None
    for params in grid:
        model = fit_fn(split.fit, params, seed)
        top, _ = model.top(split.users, 50)
        metrics = evaluate(top, split.truth, split.users)
        table.append((params, metrics))
        if best is None or metrics[metric] > best[2][metric]:
            best = (params, model, metrics)
    return best[0], best[1], table
