"""Rank users: the one code path the nightly batch scorer and the online API both run.

Read top to bottom: candidate sources -> filters (cheapest first) -> scorer -> selector.
Adding a filter is one new module and one line in FILTERS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ranking.context import CANDIDATE_SCHEMA, RankContext, SourceResult
from ranking.dataset import candidate_rows
from ranking.filters import FilterResult
from ranking.filters.consent import NAME as CONSENT
from ranking.filters.consent import consent_filter
from ranking.filters.safety import NAME as SAFETY
from ranking.filters.safety import safety_filter
from ranking.filters.seen import NAME as SEEN
from ranking.filters.seen import seen_filter
from ranking.ranker import TrainedRanker
from ranking.selectors.feed import SelectionParams, select_feeds
from ranking.sources import ann, collaborative, fresh, graph, trending
from reelrank.errors import ReelrankError

if TYPE_CHECKING:  # the index module pulls in FAISS; only types are needed here
    from ranking.index import ItemIndex

__all__ = ["RankOutput", "Retrieval", "fallback_scores", "rank_users"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retrieval:
    """The nightly retrieval artifacts; any of them may be missing (its source then
    proposes nothing, and the feed comes from the others)."""

    content: ItemIndex | None = None
    collaborative: ItemIndex | None = None
    collaborative_users: dict[object, np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(cls, indexes: Path) -> Retrieval:
        from ranking.collaborative import load_user_vectors
        from ranking.index import ItemIndex

        def attempt(directory: Path) -> ItemIndex | None:
            if not (directory / "meta.json").is_file():
                return None
            try:
                return ItemIndex.load(directory)
            except ReelrankError as exc:  # a damaged artifact: serve without it
                log.warning("retrieval index %s unusable: %s", directory, exc)
                return None

        collab = attempt(indexes / "collaborative")
        users = load_user_vectors(indexes / "collaborative") if collab is not None else {}
        return cls(attempt(indexes / "content"), collab, users)


@dataclass(frozen=True)
class RankOutput:
    feeds: pl.DataFrame                  # user_id, position, item_id, score, source
    removed: dict[str, int]              # filter name -> candidates removed
    failed_sources: dict[str, str] = field(default_factory=dict)


def _sources(ctx: RankContext, retrieval: Retrieval) -> list[SourceResult]:
    plan: list[tuple[str, bool, Callable[[], pl.DataFrame]]] = [
        (graph.NAME, graph.FAIL_OPEN, lambda: graph.graph_candidates(ctx)),
        (trending.NAME, trending.FAIL_OPEN, lambda: trending.trending_candidates(ctx)),
        (fresh.NAME, fresh.FAIL_OPEN, lambda: fresh.fresh_candidates(ctx)),
    ]
    if retrieval.collaborative is not None:
        plan.insert(0, (collaborative.NAME, collaborative.FAIL_OPEN,
                        lambda: collaborative.collaborative_candidates(
                            ctx, retrieval.collaborative, retrieval.collaborative_users)))
    if retrieval.content is not None:
        plan.insert(0, (ann.NAME, ann.FAIL_OPEN,
                        lambda: ann.ann_candidates(ctx, retrieval.content)))
    results = []
    for name, fail_open, run in plan:
        if not fail_open:
            results.append(SourceResult(name, run()))
            continue
        try:
            results.append(SourceResult(name, run()))
        except (OSError, RuntimeError, ValueError) as exc:  # the index file, FAISS
            log.warning("source %s failed open: %s", name, exc)
            results.append(SourceResult(name, pl.DataFrame(), failed=str(exc)))
    return results


def _merge(results: list[SourceResult], user_dtype: pl.DataType, item_dtype: pl.DataType
           ) -> pl.DataFrame:
    """One row per (user, item), provenance kept: every source that proposed it."""
    frames = [r.frame.select(CANDIDATE_SCHEMA).cast({"user_id": user_dtype,
                                                     "item_id": item_dtype,
                                                     "source_score": pl.Float64})
              for r in results if r.failed is None and not r.frame.is_empty()]
    if not frames:
        return pl.DataFrame(schema={"user_id": user_dtype, "item_id": item_dtype,
                                    "source": pl.String, "source_score": pl.Float64})
    return pl.concat(frames).group_by("user_id", "item_id").agg(
        pl.col("source").unique().sort().str.join(",").alias("source"),
        pl.col("source_score").max())


def fallback_scores(rows: pl.DataFrame) -> np.ndarray:
    """Before any ranker exists (a young deployment): how much engagement each item earned
    lately, plus how close it is to the user's taste; both signals the ranker also uses."""
    popularity = rows["item_engagement_decayed"].fill_null(0).clip(lower_bound=0).log1p()
    similarity = rows["content_similarity"].fill_null(0).fill_nan(0)
    return (popularity + similarity).to_numpy()


def rank_users(ctx: RankContext, *, ranker: TrainedRanker | None, retrieval: Retrieval,
               grants: pl.DataFrame) -> RankOutput:
    """Feeds for `ctx.users` as of `ctx.as_of` (`ranker` None: the fallback scorer)."""
    ids = ctx.con.sql("SELECT item_id, creator_id FROM items LIMIT 0").pl().schema
    results = _sources(ctx, retrieval)
    candidates = _merge(results, ctx.users.dtype, ids["item_id"])

    removed: dict[str, int] = {}
    filters: list[tuple[str, Callable[[pl.DataFrame], FilterResult]]] = [
        (SAFETY, lambda c: safety_filter(ctx, c)),
        (SEEN, lambda c: seen_filter(ctx, c)),
        (CONSENT, lambda c: consent_filter(ctx, c, grants)),
    ]
    for name, run in filters:
        result = run(candidates)
        removed[name] = result.removed.height
        candidates = result.kept

    rows = candidate_rows(ctx.con, candidates.select("user_id", "item_id"), ctx.as_of,
                          ctx.settings)
    scored = rows.select("user_id", "item_id").with_columns(
        pl.Series("score", ranker.score(rows) if ranker is not None else fallback_scores(rows))
    ).join(
        candidates.select("user_id", "item_id", "source"), on=["user_id", "item_id"]).join(
        _cap_keys(ctx), on="item_id")

    s = ctx.settings
    params = SelectionParams(s.feed_length, s.per_creator_cap, s.mmr_lambda,
                             s.exploration_every)
    feeds = select_feeds(scored, _vectors(ctx, scored), params)
    failed = {r.name: r.failed for r in results if r.failed is not None}
    return RankOutput(feeds, removed, failed)


def _cap_keys(ctx: RankContext) -> pl.DataFrame:
    """item_id -> what the per-creator cap counts: the creator, except for the stand-in
    creator of an imported log without creators, where each item counts as its own."""
    return ctx.con.sql(
        "SELECT item_id, CASE WHEN CAST(creator_id AS VARCHAR) IN "
        "(SELECT user_id FROM stand_in_creators) THEN 'item:' || CAST(item_id AS VARCHAR) "
        "ELSE CAST(creator_id AS VARCHAR) END AS creator_id FROM items").pl()


def _vectors(ctx: RankContext, scored: pl.DataFrame) -> dict[object, np.ndarray]:
    ctx.con.register("_items", scored.select("item_id").unique())
    try:
        table = ctx.con.sql("SELECT e.item_id, e.embedding FROM item_embeddings e "
                            "JOIN _items USING (item_id)").pl()
    finally:
        ctx.con.unregister("_items")
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(table["item_id"].to_list(),
                                                              table["embedding"].to_list())}
