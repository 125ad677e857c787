"""Backfill: the whole catalog by popularity (then newest first), asked only when the other
sources leave a user short of a page, so the feed ends only when the catalog's servable items
run out (endless scroll for someone who has been served everything the others propose)."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["BACKFILL", "FAIL_OPEN", "NAME", "PERSONAL", "catalog_order", "propose"]

NAME = "catalog"
FAIL_OPEN = False
PERSONAL = False
BACKFILL = True


def catalog_order(snap: View) -> np.ndarray:
    """Every row, most decayed engagement first, then newest, then by item id; the items
    added since the snapshot (no engagement yet) after the snapshot's, newest first."""
    base = snap.memo.get(("catalog",))
    if base is None:
        decayed = np.nan_to_num(
            snap.item_block[:, snap.item_block_cols.index("item_engagement_decayed")])
        rows = np.arange(snap.n_base)
        base = rows[np.lexsort((rows, -snap.item_created_s, -decayed))]
        snap.memo[("catalog",)] = base
    if snap.n_items == snap.n_base:
        return base
    extra = np.arange(snap.n_base, snap.n_items)
    extra = extra[np.argsort(-snap.take("item_created_s", extra), kind="stable")]
    return np.concatenate([base, extra])


def propose(snap: View, queries: list[UserQuery], settings: Settings) -> list[Candidates]:
    order = catalog_order(snap)[: int(settings.candidates_per_source)]
    scores = 1.0 - np.arange(len(order)) / max(len(order), 1)
    return [Candidates(order, scores) for _ in queries]
