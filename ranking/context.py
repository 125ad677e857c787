"""What ranking components pass each other: one user's query (who, under which policy, with
which taste vector), what a source returns, a user's merged candidate pool, the scoring
context, and the ranked page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ranking.controls import NO_CONTROLS, UserControls
from ranking.live import UserPolicy
from ranking.session import EMPTY, Session

__all__ = ["Candidates", "Page", "Pool", "RankOutput", "Scoring", "UserQuery"]


@dataclass(frozen=True)
class UserQuery:
    """`row`: the user's row in the snapshot (-1: unknown to it); `vector`: the taste vector
    the policy allows (None: none, or not allowed, e.g. built from chat after an opt-out);
    `session`: what happened since the snapshot (empty in the nightly batch); `controls`: the
    user's own steering, mutes and "see fewer", as the live store holds them."""

    user_id: object
    row: int
    policy: UserPolicy
    vector: np.ndarray | None
    session: Session = EMPTY
    controls: UserControls = NO_CONTROLS


@dataclass(frozen=True)
class Candidates:
    """Item rows of the view, each with the proposing source's score."""

    rows: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))


@dataclass(frozen=True)
class Pool:
    """One user's candidates: rows, the bitmask of the sources that proposed each, and its
    best position in any source's list (0 = some source's first pick). `labels[mask]` is the
    provenance text of a mask ("graph,trending")."""

    rows: np.ndarray
    bits: np.ndarray
    best_rank: np.ndarray
    labels: tuple[str, ...] = ()

    def sources(self) -> list[str]:
        return [self.labels[int(b)] for b in self.bits]

    def subset(self, keep: np.ndarray) -> Pool:
        return Pool(self.rows[keep], self.bits[keep], self.best_rank[keep], self.labels)


@dataclass(frozen=True)
class Scoring:
    """What scorers and the selector read: the view ranked on, the settings, the ordering
    mode (`ranker` or `collaborative`), and the ranker with its feature assemblers."""

    view: object                       # a ServingSnapshot or ServingView
    settings: object                   # reelrank.settings.Settings
    mode: str
    ranker: object | None              # ranking.ranker.TrainedRanker
    predict: Callable[[np.ndarray], np.ndarray] | None
    features: object | None            # FeatureAssembler of the ranker's features
    popularity: object                 # FeatureAssembler of item_engagement_decayed
    similarity: object                 # FeatureAssembler of content_similarity
    exploration_bit: int               # the fresh source's bit in a Pool's mask
    taste_bits: int = 0                # the bits of the sources that search by taste
    first: int | None = None           # select only a page's first this many (None: all)


@dataclass(frozen=True)
class Page:
    """One user's ranked page, best first."""

    user_id: object
    item_ids: list[object]
    scores: np.ndarray
    sources: list[str]
    personalized: bool = True


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
