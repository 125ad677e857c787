"""Content retrieval: nearest items to the user's taste vector in the FAISS item index."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ranking.context import RankContext

if TYPE_CHECKING:  # the index module pulls in FAISS; only types are needed here
    from ranking.index import ItemIndex

__all__ = ["FAIL_OPEN", "NAME", "ann_candidates"]

NAME = "similar"
# The index is a separate artifact that can be missing or stale; the feed degrades to the
# other sources rather than failing (the pipeline logs and counts it).
FAIL_OPEN = True


def ann_candidates(ctx: RankContext, index: ItemIndex) -> pl.DataFrame:
    users = ctx.query(f"SELECT e.user_id, e.embedding FROM user_embeddings e "
                      f"JOIN _users u USING (user_id) WHERE e.as_of = {ctx.day} "
                      "ORDER BY e.user_id")
    empty = pl.DataFrame(schema={"user_id": ctx.users.dtype, "item_id": pl.Null,
                                 "source": pl.String, "source_score": pl.Float64})
    if users.is_empty():
        return empty
    vectors = np.asarray(users["embedding"].to_list(), dtype=np.float32)
    ids, scores = index.search(vectors, int(ctx.settings.candidates_per_source))
    counts = [len(row) for row in ids]
    return pl.DataFrame({
        "user_id": np.repeat(users["user_id"].to_numpy(), counts),
        "item_id": [i for row in ids for i in row],
        "source": NAME,
        "source_score": np.concatenate([s[:c] for s, c in zip(scores, counts)]).astype(
            np.float64) if counts else [],
    })
