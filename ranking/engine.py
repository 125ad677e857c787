"""Rank users: run the feed definition (`ranking.pipeline.FEED`), the one code path the
nightly batch scorer and the online API both take.

Queries (the live policy decides which signals may be used) -> sources -> policy filters
(cheapest first, removals counted by name) -> scorers -> selector. Everything reads the
in-memory serving snapshot (plus, online, the items added since: `LiveItems`) and the live
control-store state passed in; nothing here touches the warehouse, so one user takes
milliseconds. A source that may fail open and fails is logged and counted, and the feed is
ranked from the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from ranking.assembler import FeatureAssembler
from ranking.compiled import CompiledRankerError, compiled_predict
from ranking.context import Candidates, Page, Pool, RankOutput, Scoring, UserQuery
from ranking.controls import NO_CONTROLS, UserControls, targets
from ranking.live import LiveState, UserPolicy
from ranking.pipeline import FEED, Pipeline
from ranking.policy import servable
from ranking.ranker import TrainedRanker
from ranking.session import EMPTY, Session, shifted_vector
from ranking.snapshot.overlay import LiveItems
from ranking.snapshot.reader import ServingSnapshot
from ranking.snapshot.view import View, view_of
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = ["FALLBACK_FEATURES", "Engine", "Page", "Pool", "RankOutput", "merge"]

log = logging.getLogger(__name__)

FALLBACK_FEATURES = ("item_engagement_decayed", "content_similarity")


class Engine:
    """A loaded snapshot with its ranker: what the server and the batch scorer hold."""

    def __init__(self, snap: ServingSnapshot, settings: Settings,
                 ranker: TrainedRanker | None,
                 predict: Callable[[np.ndarray], np.ndarray] | None = None,
                 pipeline: Pipeline = FEED) -> None:
        """`predict`: the ranker's trees as a faster function of the feature matrix
        (compiled); LightGBM's own predict when None."""
        self.snap, self.settings, self.ranker, self.pipeline = snap, settings, ranker, pipeline
        self.predict = predict or (ranker.predict if ranker is not None else None)
        self.scorer = settings.scorer
        collaborative = snap.ease is not None or len(snap.learned) > 0
        if self.scorer == "auto":
            choices = snap.log_kind == "choices" and collaborative
            self.scorer = "collaborative" if choices else "ranker"
        if self.scorer == "collaborative" and not collaborative:
            raise ReelrankError("scorer 'collaborative' needs the learned stage's lists or the "
                                "EASE model (catalogs up to ease_max_items, "
                                f"{settings.ease_max_items}); this snapshot has neither")
        self.features = (FeatureAssembler(snap, ranker.features)
                         if ranker is not None and self.scorer == "ranker" else None)
        self.assembler = self.features or FeatureAssembler(snap, FALLBACK_FEATURES)
        self._popularity = FeatureAssembler(snap, ("item_engagement_decayed",))
        self._similarity = FeatureAssembler(snap, ("content_similarity",))
        self._labels = pipeline.labels

    @classmethod
    def load(cls, snap: ServingSnapshot, settings: Settings) -> Engine:
        if snap.ranker_dir is None:
            return cls(snap, settings, None)
        ranker = TrainedRanker.load(snap.ranker_dir)
        predict = None
        if settings.ranker_backend == "lleaves":
            # The cache sits beside the snapshots, never inside a published one.
            try:
                predict = compiled_predict(snap.ranker_dir / "model.txt",
                                           snap.directory.parent / ".compiled")
            except CompiledRankerError as exc:
                log.warning("serving the ranker with LightGBM itself: %s", exc)
        return cls(snap, settings, ranker, predict)

    def query(self, user_id: object, policy: UserPolicy, session: Session = EMPTY,
              view: View | None = None, controls: UserControls = NO_CONTROLS) -> UserQuery:
        """Who, under which policy, with which taste vector: the snapshot's, moved toward
        what the session says the user just liked (rows of `view`) and what their steering
        asks more of. A personalization-off account's controls are not used (hard rule 2)."""
        snap = self.snap
        row = snap.user_row.get(user_id, -1)
        vector = snap.user_vectors.get(row) if policy.personalized else None
        if vector is not None and snap.user_vector_from_chat[row] and not policy.chat_history:
            vector = None  # built from chat interests, and the user has since opted out
        if policy.personalized and session.liked:
            view = snap if view is None else view
            rows = np.array([r for r, _w in session.liked], dtype=np.int64)
            has = view.take("has_vector", rows)
            weights = np.array([w for _r, w in session.liked])[has]
            liked = view.take("item_vectors", rows[has])
            liked = liked / np.linalg.norm(liked, axis=1, keepdims=True) if len(liked) else liked
            vector = shifted_vector(vector, liked, weights, self.settings.session_pull_per_like,
                                    self.settings.session_pull_max)
        if not policy.personalized:
            controls = NO_CONTROLS
        elif controls is not NO_CONTROLS:
            controls = replace(controls, no_similarity=self.settings.steering_no_similarity)
            vector = self._steered(vector, controls, snap if view is None else view)
        return UserQuery(user_id, row, policy, vector, session, controls)

    def _steered(self, vector: np.ndarray | None, controls: UserControls, view: View
                 ) -> np.ndarray | None:
        """The taste vector moved toward the 'more' directions (`steering_pull` of it)."""
        more = controls.of_kind("more")
        if not more:
            return vector
        toward = targets(view, controls, more)
        has = np.linalg.norm(toward, axis=1) > 0
        weights = np.array([controls.directions[n].weight for n in more])[has]
        pull = self.settings.steering_pull
        return shifted_vector(vector, toward[has], weights, pull, pull)

    def scoring(self, view: View) -> Scoring:
        return Scoring(view, self.settings, self.scorer, self.ranker, self.predict,
                       self.features, self._popularity, self._similarity,
                       self.pipeline.exploration_bit, self.pipeline.taste_bits)

    def rank(self, users: Sequence[object], live: LiveState, items: LiveItems | None = None,
             sessions: Mapping[object, Session] | None = None, *,
             first: int | None = None) -> RankOutput:
        """Pages for `users` under the live state `live`, over the snapshot and `items`
        added since, with each user's `sessions` (same input, same pages: batch and online
        run exactly this). `first`: only the first this many items of each page are
        wanted (a request's page): the selection stops there, and they are exactly the
        full page's first items."""
        view = view_of(self.snap, items)
        sessions = sessions or {}
        queries = [self.query(u, live.policy(u), sessions.get(u, EMPTY), view,
                              live.controls_of(u)) for u in users]
        pools, removed, failed = self.candidates(queries, live, view)
        ctx = self.scoring(view)
        if first is not None:
            ctx = replace(ctx, first=first)
        scores = self.score(ctx, queries, pools)
        pages = [self.pipeline.selector.select(ctx, q, p, s)
                 for q, p, s in zip(queries, pools, scores, strict=True)]
        return RankOutput(pages, removed, failed)

    def candidates(self, queries: list[UserQuery], live: LiveState, view: View | None = None
                   ) -> tuple[list[Pool], dict[str, int], dict[str, str]]:
        """Each query's servable candidates (sources merged, policy applied), with the
        filters' removal counts and the sources that failed open."""
        view = self.snap if view is None else view
        proposed, failed = self.propose(queries, view)
        removed: dict[str, int] = {}
        pools = [self._filtered(q, live, view, [p[n] for p in proposed], removed)
                 for n, q in enumerate(queries)]
        short = [n for n, pool in enumerate(pools)
                 if len(pool.rows) < self.settings.feed_length]
        if short and any(getattr(s, "BACKFILL", False) for s in self.pipeline.sources):
            more, failed_more = self.propose([queries[n] for n in short], view, backfill=True)
            failed.update(failed_more)
            for k, n in enumerate(short):  # the first pass's removals are already counted
                found = [a[n] if b[k] is None else b[k] for a, b in zip(proposed, more,
                                                                         strict=True)]
                pools[n] = self._filtered(queries[n], live, view, found, {})
        return pools, removed, failed

    def _filtered(self, q: UserQuery, live: LiveState, view: View, found: list[Candidates],
                  removed: dict[str, int]) -> Pool:
        pool = merge(found, self._labels)
        keep, gone = servable(view, q, live, pool.rows, self.pipeline.filters)
        for name, count in gone.items():
            removed[name] = removed.get(name, 0) + count
        return pool.subset(keep)

    def propose(self, queries: list[UserQuery], view: View, *, backfill: bool = False
                ) -> tuple[list[list[Candidates | None]], dict[str, str]]:
        """Every source's candidates per query (a personal source asks only personalized
        queries), and the sources that failed open. The usual sources reach deeper for a
        user whose session excludes many items; backfill sources (None for the others)
        are asked only with `backfill`, for users the others left short."""
        out, failed = [], {}
        depth = min(max((q.session.depth for q in queries), default=0),
                    self.settings.scroll_depth_max)
        settings = self.settings if not depth else self.settings.model_copy(update={
            "candidates_per_source": self.settings.candidates_per_source + depth})
        for source in self.pipeline.sources:
            if getattr(source, "BACKFILL", False) != backfill:
                out.append([None if backfill else Candidates.empty() for _ in queries])
                continue
            asking = [q if (q.policy.personalized or not source.PERSONAL) else None
                      for q in queries]
            live = [q for q in asking if q is not None]
            try:
                found = iter(source.propose(view, live, settings))
            except (OSError, RuntimeError, ValueError) as exc:  # the index file, FAISS
                if not source.FAIL_OPEN:
                    raise
                log.warning("source %s failed open: %s", source.NAME, exc)
                failed[source.NAME] = str(exc)
                found = iter([Candidates.empty() for _ in live])
            out.append([next(found) if q is not None else Candidates.empty()
                        for q in asking])
        return out, failed

    def score(self, ctx: Scoring, queries: list[UserQuery], pools: list[Pool]
              ) -> list[np.ndarray]:
        """Run the scorers; each writes its declared columns for the queries it applies to
        (with candidates). Returns every query's `score` column."""
        columns: dict[str, list[np.ndarray | None]] = {}
        for scorer in self.pipeline.scorers:
            which = [n for n, q in enumerate(queries)
                     if len(pools[n].rows) and scorer.applies(ctx, q)]
            if not which:
                continue
            given = {name: [values[n] for n in which] for name, values in columns.items()}
            wrote = scorer.score(ctx, [queries[n] for n in which], [pools[n] for n in which],
                                 given)
            if not set(wrote) <= set(scorer.WRITES):
                raise ReelrankError(f"scorer {scorer.NAME} wrote {sorted(wrote)}, it declares "
                                    f"{list(scorer.WRITES)}")
            for name, values in wrote.items():
                column = columns.setdefault(name, [None] * len(queries))
                for n, value in zip(which, values, strict=True):
                    column[n] = value
        final = columns.get("score", [None] * len(queries))
        return [s if s is not None else np.empty(0) for s in final]


def merge(found: list[Candidates], labels: tuple[str, ...] = ()) -> Pool:
    """One entry per item: its row, the bitmask of the sources that proposed it, and its
    best position in any source's list (0 = some source's first pick)."""
    rows = np.concatenate([c.rows for c in found]).astype(np.int64)
    if len(rows) == 0:
        return Pool(rows, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), labels)
    bits = np.concatenate([np.full(len(c.rows), 1 << b, dtype=np.int64)
                           for b, c in enumerate(found)])
    positions = np.concatenate([np.arange(len(c.rows)) for c in found])
    unique, inverse = np.unique(rows, return_inverse=True)
    merged_bits = np.zeros(len(unique), dtype=np.int64)
    np.bitwise_or.at(merged_bits, inverse, bits)
    best = np.full(len(unique), np.iinfo(np.int64).max)
    np.minimum.at(best, inverse, positions)
    return Pool(unique, merged_bits, best, labels)
