"""Rank users: the one code path the nightly batch scorer and the online API both run.

Read top to bottom: queries (the live policy decides which signals may be used) ->
candidate sources -> policy filters (cheapest first) -> scorer -> selector. Everything reads
the in-memory serving snapshot and the live control-store state passed in; nothing here
touches the warehouse, so one user takes milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ranking.compiled import compiled_predict
from ranking.context import Candidates, UserQuery
from ranking.policy import LiveState, UserPolicy, servable
from ranking.ranker import TrainedRanker
from ranking.selectors.feed import SelectionParams, select_page
from ranking.serving.features import FeatureAssembler
from ranking.serving.snapshot import ServingSnapshot
from ranking.sources import ann, collaborative, fresh, graph, trending
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = ["FALLBACK_FEATURES", "SOURCES", "Engine", "Page", "Pool", "RankOutput"]

log = logging.getLogger(__name__)

SOURCES = (ann, collaborative, graph, trending, fresh)
# Source bitmask -> provenance label ("graph,trending"): names sorted, as stored in feeds.
_LABELS = [",".join(sorted(m.NAME for b, m in enumerate(SOURCES) if mask >> b & 1))
           for mask in range(1 << len(SOURCES))]
_FRESH_BIT = 1 << SOURCES.index(fresh)
FALLBACK_FEATURES = ("item_engagement_decayed", "content_similarity")
_SCORE_BLOCK = 64  # users per predict call


@dataclass(frozen=True)
class Page:
    """One user's ranked page, best first."""

    user_id: object
    item_ids: list[object]
    scores: np.ndarray
    sources: list[str]
    personalized: bool = True


@dataclass(frozen=True)
class Pool:
    """One user's candidates: snapshot rows, source bitmask, best position in a source."""

    rows: np.ndarray
    bits: np.ndarray
    best_rank: np.ndarray

    def sources(self) -> list[str]:
        return [_LABELS[int(b)] for b in self.bits]


@dataclass(frozen=True)
class RankOutput:
    pages: list[Page]
    removed: dict[str, int]              # filter name -> candidates removed
    failed_sources: dict[str, str] = field(default_factory=dict)

    def frame(self, user_dtype: pl.DataType, item_dtype: pl.DataType) -> pl.DataFrame:
        """user_id, position (from 1), item_id, score, source."""
        lengths = [len(p.item_ids) for p in self.pages]
        return pl.DataFrame({
            "user_id": pl.Series([p.user_id for p, n in zip(self.pages, lengths)
                                  for _ in range(n)], dtype=user_dtype),
            "position": pl.Series([i + 1 for n in lengths for i in range(n)],
                                  dtype=pl.Int32),
            "item_id": pl.Series([i for p in self.pages for i in p.item_ids],
                                 dtype=item_dtype),
            "score": pl.Series(np.concatenate([p.scores for p in self.pages])
                               if self.pages else [], dtype=pl.Float64),
            "source": pl.Series([s for p in self.pages for s in p.sources], dtype=pl.String),
        })


class Engine:
    """A loaded snapshot with its scorer: what the server and the batch scorer hold."""

    def __init__(self, snap: ServingSnapshot, settings: Settings,
                 ranker: TrainedRanker | None,
                 predict: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """`predict`: the ranker's trees as a faster function of the feature matrix
        (compiled); LightGBM's own predict when None."""
        self.snap, self.settings, self.ranker = snap, settings, ranker
        self.predict = predict or (ranker.predict if ranker is not None else None)
        self.scorer = settings.scorer
        if self.scorer == "auto":
            choices = snap.log_kind == "choices" and snap.ease is not None
            self.scorer = "collaborative" if choices else "ranker"
        if self.scorer == "collaborative" and snap.ease is None:
            raise ReelrankError("scorer 'collaborative' needs the EASE model, built for "
                                f"catalogs up to ease_max_items ({settings.ease_max_items})")
        self.assembler = FeatureAssembler(
            snap, ranker.features if ranker is not None and self.scorer == "ranker"
            else FALLBACK_FEATURES)
        self._popularity = FeatureAssembler(snap, ("item_engagement_decayed",))
        s = settings
        self.params = SelectionParams(s.feed_length, s.per_creator_cap, s.mmr_lambda,
                                      s.exploration_every)

    @classmethod
    def load(cls, snap: ServingSnapshot, settings: Settings) -> Engine:
        if snap.ranker_dir is None:
            return cls(snap, settings, None)
        ranker = TrainedRanker.load(snap.ranker_dir)
        predict = None
        if settings.ranker_backend == "lleaves":
            predict = compiled_predict(snap.ranker_dir / "model.txt",
                                       snap.directory / ".compiled")
        return cls(snap, settings, ranker, predict)

    def query(self, user_id: object, policy: UserPolicy) -> UserQuery:
        snap = self.snap
        row = snap.user_row.get(user_id, -1)
        vector = snap.user_vectors.get(row) if policy.personalized else None
        if vector is not None and snap.user_vector_from_chat[row] and not policy.chat_history:
            vector = None  # built from chat interests, and the user has since opted out
        return UserQuery(user_id, row, policy, vector)

    def rank(self, users: Sequence[object], live: LiveState) -> RankOutput:
        """Pages for `users` under the live state `live` (same input, same pages: batch
        and online run exactly this)."""
        queries = [self.query(u, live.policy(u)) for u in users]
        pools, removed, failed = self.candidates(queries, live)
        scores = self._score(queries, [p.rows for p in pools])
        pages = [self._select(q, p.rows, p.bits, s)
                 for q, p, s in zip(queries, pools, scores, strict=True)]
        return RankOutput(pages, removed, failed)

    def candidates(self, queries: list[UserQuery], live: LiveState
                   ) -> tuple[list[Pool], dict[str, int], dict[str, str]]:
        """Each query's servable candidates (sources merged, policy applied), with the
        filters' removal counts and the sources that failed open."""
        proposed, failed = self._propose(queries)
        removed: dict[str, int] = {}
        pools = []
        for n, q in enumerate(queries):
            pool = _merge([p[n] for p in proposed])
            keep, gone = servable(self.snap, q, live, pool.rows)
            for name, count in gone.items():
                removed[name] = removed.get(name, 0) + count
            pools.append(Pool(pool.rows[keep], pool.bits[keep], pool.best_rank[keep]))
        return pools, removed, failed

    def _propose(self, queries: list[UserQuery]
                 ) -> tuple[list[list[Candidates]], dict[str, str]]:
        out, failed = [], {}
        for source in SOURCES:
            asking = [q if (q.policy.personalized or not source.PERSONAL) else None
                      for q in queries]
            live = [q for q in asking if q is not None]
            try:
                found = iter(source.propose(self.snap, live, self.settings))
            except (OSError, RuntimeError, ValueError) as exc:  # the index file, FAISS
                if not source.FAIL_OPEN:
                    raise
                log.warning("source %s failed open: %s", source.NAME, exc)
                failed[source.NAME] = str(exc)
                found = iter([Candidates.empty() for _ in live])
            out.append([next(found) if q is not None else Candidates.empty()
                        for q in asking])
        return out, failed

    def _score(self, queries: list[UserQuery], pools: list[np.ndarray]) -> list[np.ndarray]:
        """Personalized users: the ranker (one predict call per block of users) or, before
        any ranker exists, the fallback; others: item popularity only."""
        out: list[np.ndarray] = [np.empty(0)] * len(queries)
        personal = [n for n, q in enumerate(queries) if q.policy.personalized and len(pools[n])]
        for n, q in enumerate(queries):
            if not q.policy.personalized and len(pools[n]):
                out[n] = _popularity(self._popularity.rows(-1, pools[n], None)[:, 0])
        if not personal:
            return out
        for start in range(0, len(personal), _SCORE_BLOCK):
            block = personal[start:start + _SCORE_BLOCK]
            for n, scores in zip(block, self._score_block(queries, pools, block), strict=True):
                out[n] = scores
        return out

    def _score_block(self, queries: list[UserQuery], pools: list[np.ndarray],
                     block: list[int]) -> list[np.ndarray]:
        """Scores of a few users' pools in one predict call (blocks keep the stacked
        feature matrix small: a whole 1,000-user chunk at 1M items was ~900 MB)."""
        matrices = [self.assembler.rows(queries[n].row, pools[n], queries[n].vector)
                    for n in block]
        stacked = np.vstack(matrices)
        if self.scorer == "collaborative":
            # Candidates the model has no score for (new items) sort after those it has,
            # by popularity.
            flat = np.concatenate([self.snap.collaborative_scores(queries[n].row, pools[n])
                                   for n in block])
            flat = np.where(np.isnan(flat), _popularity(stacked[:, 0]) - 1e6, flat)
        elif self.ranker is not None and self.scorer == "ranker":
            flat = self.predict(stacked)
        else:
            flat = _popularity(stacked[:, 0]) + np.nan_to_num(stacked[:, 1])
        bounds = np.cumsum([0, *[len(m) for m in matrices]])
        return [flat[bounds[k]:bounds[k + 1]] for k in range(len(block))]

    def _select(self, q: UserQuery, rows: np.ndarray, bits: np.ndarray, scores: np.ndarray
                ) -> Page:
        snap, p = self.snap, self.params
        if len(rows) == 0:
            return Page(q.user_id, [], np.empty(0), [], q.policy.personalized)
        # Best score first, ties by item id (snapshot rows are in item id order).
        order = np.lexsort((rows, -scores))[: p.length * p.pool_factor]
        rows, bits, scores = rows[order], bits[order], scores[order]
        picks = select_page(scores, snap.item_vectors[rows], snap.item_cap_key[rows],
                            (bits & _FRESH_BIT) > 0, p, self._since_snapshot(q, rows))
        ids = snap.item_id_list
        return Page(q.user_id, [ids[int(rows[i])] for i in picks], scores[picks],
                    [_LABELS[int(bits[i])] for i in picks], q.policy.personalized)


    def _since_snapshot(self, q: UserQuery, rows: np.ndarray) -> np.ndarray | None:
        """Which of `rows` the user's people made after the snapshot (same-day reach)."""
        live = self.snap.live_by_creator
        if not live or q.row < 0 or not q.policy.personalized:
            return None
        people = self.snap.people.values[self.snap.people.of(q.row)].tolist()
        made = [r for p in people for r in live.get(p, ())]
        return np.isin(rows, made) if made else None


def _merge(found: list[Candidates]) -> Pool:
    """One entry per item: its row, the bitmask of the sources that proposed it, and its
    best position in any source's list (0 = some source's first pick)."""
    rows = np.concatenate([c.rows for c in found]).astype(np.int64)
    if len(rows) == 0:
        return Pool(rows, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    bits = np.concatenate([np.full(len(c.rows), 1 << b, dtype=np.int64)
                           for b, c in enumerate(found)])
    positions = np.concatenate([np.arange(len(c.rows)) for c in found])
    unique, inverse = np.unique(rows, return_inverse=True)
    merged_bits = np.zeros(len(unique), dtype=np.int64)
    np.bitwise_or.at(merged_bits, inverse, bits)
    best = np.full(len(unique), np.iinfo(np.int64).max)
    np.minimum.at(best, inverse, positions)
    return Pool(unique, merged_bits, best)


def _popularity(decayed: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.nan_to_num(decayed), 0, None))
