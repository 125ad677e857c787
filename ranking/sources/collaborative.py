"""Collaborative retrieval: items whose co-engagement vectors are nearest the user's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ranking.context import RankContext

if TYPE_CHECKING:  # the index module pulls in FAISS; only types are needed here
    from ranking.index import ItemIndex

__all__ = ["FAIL_OPEN", "NAME", "collaborative_candidates"]

NAME = "collaborative"
FAIL_OPEN = True  # a separate nightly artifact: degrade to the other sources without it


def collaborative_candidates(ctx: RankContext, index: ItemIndex,
                             user_vectors: dict[object, np.ndarray]) -> pl.DataFrame:
    users = [u for u in ctx.users.to_list() if u in user_vectors]
    if not users:
        return pl.DataFrame(schema={"user_id": ctx.users.dtype, "item_id": pl.Null,
                                    "source": pl.String, "source_score": pl.Float64})
    queries = np.stack([user_vectors[u] for u in users]).astype(np.float32)
    ids, scores = index.search(queries, int(ctx.settings.candidates_per_source))
    counts = [len(row) for row in ids]
    return pl.DataFrame({
        "user_id": pl.Series(np.repeat(np.array(users, dtype=object), counts).tolist(),
                             dtype=ctx.users.dtype),
        "item_id": [i for row in ids for i in row],
        "source": NAME,
        "source_score": np.concatenate([s[:c] for s, c in zip(scores, counts)]).astype(
            np.float64),
    })
