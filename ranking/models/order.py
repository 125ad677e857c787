"""Does the order of a user's interactions carry signal? Two checks, cheap first:

1. Bunched stamps: when nearly every consecutive pair of a user's interactions shares one
   timestamp, there is no order to learn (the rows' order would be the file's, or our random
   tie-break).
2. A validation probe: on a per-user carve of the log (each user's last share held out), does
   item-kNN that weights the user's recent items more (half-life `probe_half_life` items) find
   the held-out items better than the same kNN with every item weighted 1? A paired z-test
   over users decides. Shuffled timestamps make "recent" random, so recency weighting only
   adds noise and the probe says no.

The pipeline leaves its order-aware models (the sequence model, recency-weighted kNN) out
when `has_order` is False.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking.models._base import bounded
from ranking.models.interactions import Interactions
from ranking.models.itemknn import ItemKnnModel, cosine_neighbours, recency_history
from ranking.models.tuning import carve

__all__ = ["OrderParams", "OrderReport", "detect_order"]


@dataclass(frozen=True)
class OrderParams:
    max_tied_share: float = 0.95
    probe_half_life: float = 5.0
    probe_k: int = 100
    min_z: float = 3.0  # a paired gain this many standard errors above 0 counts as order

    def __post_init__(self) -> None:
        bounded(self, "max_tied_share", 0.0, 1.0)
        bounded(self, "probe_half_life", 0.5, 1e4)
        bounded(self, "probe_k", 1, 5000, integer=True)
        bounded(self, "min_z", 0.0, 100.0)


@dataclass(frozen=True)
class OrderReport:
    tied_share: float  # consecutive same-user pairs with equal timestamps
    gain: float  # mean per-user NDCG@10 of recency-weighted minus plain kNN on validation
    z: float
    has_order: bool
    reason: str


def _ndcg_rows(top: np.ndarray, truth, users: np.ndarray) -> np.ndarray:
    rel = truth[users]
    disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    out = np.empty(len(users))
    for row in range(len(users)):
        r = rel.indices[rel.indptr[row]:rel.indptr[row + 1]]
        dcg = (np.isin(top[row], r) * disc).sum()
        out[row] = dcg / disc[:min(len(r), top.shape[1])].sum()
    return out


def detect_order(log: Interactions, params: OrderParams = OrderParams(), seed: int = 0
                 ) -> OrderReport:
    same_user = log.users[1:] == log.users[:-1]
    pairs = int(same_user.sum())
    tied = float((log.ts[1:] == log.ts[:-1])[same_user].mean()) if pairs else 1.0
    if tied >= params.max_tied_share:
        return OrderReport(tied, 0.0, 0.0, False,
                           f"{tied:.1%} of consecutive interactions share a timestamp")
    split = carve(log, "per_user", seed=seed)
    if len(split.users) < 10:
        return OrderReport(tied, 0.0, 0.0, False, "too few users to probe order")
    x = split.fit.matrix
    neighbours = cosine_neighbours(x, params.probe_k)
    ndcg = []
    for half_life in (0.0, params.probe_half_life):
        model = ItemKnnModel(neighbours, recency_history(split.fit, half_life), x, None)
        top, _ = model.top(split.users, 10)
        ndcg.append(_ndcg_rows(top, split.truth, split.users))
    diff = ndcg[1] - ndcg[0]
    gain = float(diff.mean())
    z = gain / (diff.std(ddof=1) / np.sqrt(len(diff)) + 1e-12)
    has = z >= params.min_z
    return OrderReport(tied, gain, float(z), bool(has),
                       f"recency-weighted kNN {'beats' if has else 'does not beat'} plain kNN "
                       f"on validation by {gain:+.4f} NDCG@10 (z {z:.1f})")
