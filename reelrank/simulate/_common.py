"""Small shared helpers: seeded stage generators, microsecond time, id formatting.

Times are carried as int64 microseconds since the Unix epoch (UTC) while generating, so that
whole columns can be drawn and compared with numpy; they become polars
`Datetime("us", "UTC")` only when a table is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

__all__ = [
    "NEVER",
    "TS",
    "US_PER_DAY",
    "US_PER_S",
    "SegmentedSampler",
    "categorical_rows",
    "draw_rows",
    "format_ids",
    "group_pick",
    "pick_in_group",
    "row_cdf",
    "stage_rng",
    "to_us",
    "ts_series",
    "uniform_between",
]

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S
#: Sentinel for "no such time" (e.g. a grant never revoked); becomes null on output.
NEVER = np.iinfo(np.int64).max
TS = pl.Datetime("us", "UTC")

# One fixed key per generation stage, so adding a stage or reordering calls never changes the
# random numbers another stage sees.
_STAGES = ("users", "guardians", "settings", "friends", "follows", "grants", "items",
           "text", "chats", "events")


def stage_rng(seed: int, stage: str, *sub: int) -> np.random.Generator:
    """An independent generator for one stage (and optional sub-key such as a day index)."""
    key = (_STAGES.index(stage), *sub)
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"start must be timezone-aware, got naive {moment!r}")
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def ts_series(name: str, micros: np.ndarray) -> pl.Series:
    """A `Datetime("us", "UTC")` series; `NEVER` entries become null."""
    values = np.asarray(micros, dtype=np.int64)
    series = pl.Series(name, values, dtype=pl.Int64)
    if (values == NEVER).any():
        series = pl.select(
            pl.when(series == NEVER).then(None).otherwise(series).alias(name)
        ).to_series()
    return series.cast(TS)


def uniform_between(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray | int, skew: float = 1.0
) -> np.ndarray:
    """Integer times in [lo, hi), skewed towards lo when `skew` > 1 (u ** skew).

    Where hi <= lo there is no room and lo itself is returned; callers keep lo < hi.
    """
    lo = np.asarray(lo, dtype=np.int64)
    span = np.maximum(np.asarray(hi, dtype=np.int64) - lo, 0)
    frac = rng.random(lo.shape[0]) ** skew
    # The clip guards against float rounding of frac * span up to span itself.
    return lo + np.minimum((frac * span).astype(np.int64), np.maximum(span - 1, 0))


def format_ids(prefix: str, index: np.ndarray, width: int) -> pl.Series:
    """Zero-padded string ids such as "u0000001" from 0-based indices (ids start at 1)."""
    numbers = pl.Series("n", np.asarray(index, dtype=np.int64) + 1)
    return (prefix + numbers.cast(pl.String).str.zfill(width)).rename("id")


def row_cdf(weights: np.ndarray) -> np.ndarray:
    """Per-row cumulative sums laid end to end (row r's CDF shifted by r), for `draw_rows`."""
    weights = np.asarray(weights, dtype=np.float64)
    n_rows = weights.shape[0]
    cdf = np.cumsum(weights, axis=1)
    cdf /= np.where(cdf[:, -1:] > 0, cdf[:, -1:], 1.0)
    cdf[:, -1] = 1.0
    return (cdf + np.arange(n_rows, dtype=np.float64)[:, None]).ravel()


def draw_rows(rng: np.random.Generator, flat_cdf: np.ndarray, n_cols: int, rows: np.ndarray
              ) -> np.ndarray:
    """For each entry of `rows`, one column index drawn from that row of a `row_cdf`."""
    rows = np.asarray(rows, dtype=np.int64)
    target = rows + rng.random(rows.shape[0])
    picked = np.searchsorted(flat_cdf, target, side="right") - rows * n_cols
    return np.clip(picked, 0, n_cols - 1)


def categorical_rows(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray
                     ) -> np.ndarray:
    """For each entry of `rows`, one column index drawn with probability `weights[row]`.

    A single `searchsorted` over the shifted CDFs serves every draw, so memory stays
    O(size of `weights`), never O(draws x columns).
    """
    return draw_rows(rng, row_cdf(weights), np.asarray(weights).shape[1], rows)


def group_pick(
    rng: np.random.Generator, starts: np.ndarray, counts: np.ndarray, recency_skew: float = 1.0
) -> np.ndarray:
    """A position inside each group [start, start + count), biased to its end.

    Groups are runs of a sorted array (a creator's items by time, a user's friends). With
    `recency_skew` 1 the pick is uniform; larger values prefer the last (most recent)
    entries. Empty groups give -1.
    """
    counts = np.asarray(counts, dtype=np.int64)
    back = (rng.random(counts.shape[0]) ** recency_skew * counts).astype(np.int64)
    picked = np.asarray(starts, dtype=np.int64) + counts - 1 - back
    return np.where(counts > 0, picked, -1)


def pick_in_group(rng: np.random.Generator, groups: np.ndarray, want: np.ndarray
                  ) -> np.ndarray:
    """For each wanted group, a uniformly random position `i` with `groups[i] == want`.

    -1 where no entry has the wanted group (e.g. no adult in a child's country).
    """
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    lo = np.searchsorted(sorted_groups, want, side="left")
    hi = np.searchsorted(sorted_groups, want, side="right")
    pos = lo + (rng.random(want.shape[0]) * (hi - lo)).astype(np.int64)
    return np.where(hi > lo, order[np.minimum(pos, max(groups.shape[0] - 1, 0))], -1)


@dataclass(frozen=True)
class SegmentedSampler:
    """Weighted draws of a value from one segment (e.g. a creator from one topic).

    Built once from (segment, value, weight) rows; each segment's normalised CDF is shifted
    by the segment number so one `searchsorted` answers draws for any mix of segments.
    """

    segment: np.ndarray  # sorted int64
    value: np.ndarray
    flat_cdf: np.ndarray

    @classmethod
    def build(cls, segment: np.ndarray, value: np.ndarray, weight: np.ndarray
              ) -> SegmentedSampler:
        order = np.lexsort((np.asarray(value), np.asarray(segment)))
        seg = np.asarray(segment, dtype=np.int64)[order]
        w = np.asarray(weight, dtype=np.float64)[order]
        cum = np.cumsum(w)
        first = np.searchsorted(seg, seg, side="left")
        last = np.searchsorted(seg, seg, side="right") - 1
        before = np.where(first > 0, cum[first - 1], 0.0)
        total = cum[last] - before
        within = np.where(total > 0, (cum - before) / np.where(total > 0, total, 1.0), 1.0)
        within[last] = 1.0
        return cls(segment=seg, value=np.asarray(value)[order], flat_cdf=seg + within)

    def draw(self, rng: np.random.Generator, segment: np.ndarray, missing: int = -1
             ) -> np.ndarray:
        """One value per requested segment; `missing` where the segment is empty."""
        segment = np.asarray(segment, dtype=np.int64)
        if self.segment.size == 0:
            return np.full(segment.shape[0], missing, dtype=np.int64)
        idx = np.searchsorted(self.flat_cdf, segment + rng.random(segment.shape[0]),
                              side="right")
        idx = np.minimum(idx, self.segment.size - 1)
        ok = self.segment[idx] == segment
        return np.where(ok, self.value[idx].astype(np.int64), missing)
