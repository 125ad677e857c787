"""Building the content index (one function for the nightly asset and for evaluation), and
measuring an approximate index against an exact one."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np

from ranking.index import IndexParams, ItemIndex
from reelrank.settings import Settings

__all__ = ["build_content_index", "recall_against_exact"]


def build_content_index(con: duckdb.DuckDBPyConnection, settings: Settings,
                        before: date | None = None) -> ItemIndex | None:
    """The FAISS index of every item's caption embedding (exact or HNSW by catalog size);
    with `before`, of the items made before that day only (a snapshot of a past day).
    None when there is nothing to index yet."""
    table = con.sql(
        "SELECT e.item_id, e.embedding FROM item_embeddings e JOIN items i USING (item_id) "
        "WHERE $before IS NULL OR i.created_at < $before::TIMESTAMPTZ ORDER BY e.item_id",
        params={"before": before}).pl()
    if table.is_empty():
        return None
    vectors = np.asarray(table["embedding"].to_list(), dtype=np.float32)
    return ItemIndex.build(table["item_id"], vectors,
                           IndexParams(exact_below=settings.ann_exact_below))


def recall_against_exact(index: ItemIndex, queries: np.ndarray, k: int,
                         exact_index: ItemIndex) -> float:
    """Mean over queries of |index's top k ∩ exact_index's top k| / k (k capped at the
    exact index's size). `exact_index` is the reference: build it with a large exact_below."""
    if len(queries) == 0 or exact_index.count == 0:
        raise ValueError("recall needs at least one query and a non-empty exact index")
    approx, _ = index.search(queries, k)
    exact, _ = exact_index.search(queries, k)
    return float(np.mean([len(set(a) & set(e)) / len(e)
                          for a, e in zip(approx, exact, strict=True)]))
