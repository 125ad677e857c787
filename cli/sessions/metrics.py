"""From sessions played to the numbers the report shows, per page number and per person.

Rates are per impression (a video a person actually reached; a page's videos after they
stopped were never seen). Engaged means a completion or better: completed, liked, commented,
shared or remixed (grade 2 or more in the oracle's grading). `oracle_relevance` is the
oracle's expected grade of what was shown (0 for a repeat, which is worth nothing the second
time; unknown items are left out): the same quality, without the draw's noise. A list entry
is null for a page nobody reached.

A person may open the app several times in the day (`persons.py`): pages are numbered
within each session, `session` describes sessions one by one (and `stops` says why each
ended), `day` describes each person's whole day (sessions, impressions, engaged, likes), and
`engaged_rate_by_session` is the engaged rate of people's 1st, 2nd, ... session.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from cli.sessions.events import EVENT_TYPES, ROW
from cli.sessions.persons import COHORTS
from cli.sessions.player import STOPS, SessionResult
from cli.sessions.truth import TruthWorld

__all__ = ["impressions_frame", "persons_frame", "sessions_frame", "summarise"]

_ENGAGED = [ROW[name] for name in ("complete", "like", "comment", "share", "remix")]
_BINS = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, 199),
         (200, None))
_QUANTILES = (("p10", 0.10), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p90", 0.90))


def impressions_frame(results: Sequence[SessionResult], world: TruthWorld) -> pl.DataFrame:
    """One row per impression: who, which page and position, what, and what they did."""
    rows = [(r.person.user_id, r.person.cohort, r.person.index, i.page, i.position, i.item_id,
             i.item, i.repeat, i.watch_ms, i.acts, r.person.session)
            for r in results for i in r.impressions]
    if not rows:
        acts = np.zeros((0, len(EVENT_TYPES)), dtype=bool)
    else:
        acts = np.stack([row[9] for row in rows])
    user = np.array([row[2] for row in rows], dtype=np.int64)
    item = np.array([row[6] for row in rows], dtype=np.int64)
    repeat = np.array([row[7] for row in rows], dtype=bool)
    oracle = np.full(len(rows), np.nan)
    known = item >= 0
    if known.any():
        oracle[known] = world.expected(user[known], item[known])
    oracle[repeat] = 0.0
    frame = pl.DataFrame({
        "user_id": pl.Series([str(row[0]) for row in rows], dtype=pl.String),
        "cohort": pl.Series([row[1] for row in rows], dtype=pl.String),
        "session": pl.Series([row[10] for row in rows], dtype=pl.Int32),
        "page": pl.Series([row[3] for row in rows], dtype=pl.Int32),
        "position": pl.Series([row[4] for row in rows], dtype=pl.Int32),
        "item_id": pl.Series([str(row[5]) for row in rows], dtype=pl.String),
        "unknown": pl.Series(~known),
        "repeat": pl.Series(repeat),
        "watch_ms": pl.Series([row[8] for row in rows], dtype=pl.Int64),
        **{name: pl.Series(acts[:, n]) for n, name in enumerate(EVENT_TYPES)
           if name != "impression"},
        "engaged": pl.Series(acts[:, _ENGAGED].any(axis=1) if rows else np.zeros(0, bool)),
        "oracle": pl.Series(oracle, dtype=pl.Float64),
    })
    return frame.with_columns(pl.col("oracle").fill_nan(None))


def sessions_frame(results: Sequence[SessionResult]) -> pl.DataFrame:
    """One row per session: its totals and why it ended."""
    return pl.DataFrame({
        "user_id": pl.Series([str(r.person.user_id) for r in results], dtype=pl.String),
        "cohort": pl.Series([r.person.cohort for r in results], dtype=pl.String),
        "session": pl.Series([r.person.session for r in results], dtype=pl.Int32),
        "wants": pl.Series([r.person.wants for r in results], dtype=pl.Int64),
        "impressions": pl.Series([len(r.impressions) for r in results], dtype=pl.Int64),
        "engaged": pl.Series([sum(bool(i.acts[_ENGAGED].any()) for i in r.impressions)
                              for r in results], dtype=pl.Int64),
        "likes": pl.Series([sum(bool(i.acts[ROW["like"]]) for i in r.impressions)
                            for r in results], dtype=pl.Int64),
        "pages": pl.Series([r.pages for r in results], dtype=pl.Int64),
        "stop": pl.Series([r.stop for r in results], dtype=pl.String),
    })


def persons_frame(results: Sequence[SessionResult]) -> pl.DataFrame:
    """One row per person: their day's totals over all their sessions."""
    return (sessions_frame(results).group_by("user_id", "cohort", maintain_order=True)
            .agg(pl.len().cast(pl.Int64).alias("sessions"), pl.col("impressions").sum(),
                 pl.col("engaged").sum(), pl.col("likes").sum(), pl.col("pages").sum()))


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _distribution(values: pl.Series) -> dict[str, float | None]:
    if values.len() == 0:
        return {"mean": None, "min": None, **{k: None for k, _ in _QUANTILES}, "max": None}
    return {"mean": round(float(values.mean()), 4), "min": int(values.min()),
            **{k: float(values.quantile(q, "linear")) for k, q in _QUANTILES},
            "max": int(values.max())}


def _histogram(values: pl.Series) -> dict[str, list]:
    labels, counts = [], []
    for low, high in _BINS:
        labels.append(f"{low}+" if high is None else str(low) if low == high
                      else f"{low}-{high}")
        inside = values >= low if high is None else (values >= low) & (values <= high)
        counts.append(int(inside.sum()))
    return {"bins": labels, "sessions": counts}


def _block(imps: pl.DataFrame, sessions: pl.DataFrame, persons: pl.DataFrame, pages: int
           ) -> dict[str, object]:
    per_page = (imps.group_by("page").agg(
        pl.len().alias("n"), pl.col("user_id").n_unique().alias("persons"),
        pl.col("engaged").sum(), pl.col("like").sum(), pl.col("skip").sum(),
        pl.col("oracle").mean()).sort("page"))
    at = {row["page"]: row for row in per_page.iter_rows(named=True)}

    def by_page(column: str) -> list[float | None]:
        return [_rate(at[p][column], at[p]["n"]) if p in at else None
                for p in range(1, pages + 1)]

    n = imps.height
    oracle = imps["oracle"].drop_nulls()
    by_session = imps.group_by("session").agg(pl.len().alias("n"), pl.col("engaged").sum())
    nth = {row["session"]: row for row in by_session.iter_rows(named=True)}
    most = int(sessions["session"].max()) if sessions.height else 0
    return {
        "persons": persons.height,
        "sessions": sessions.height,
        "impressions": n,
        "engaged_rate": _rate(imps["engaged"].sum(), n),
        "likes_per_impression": _rate(imps["like"].sum(), n),
        "skips_per_impression": _rate(imps["skip"].sum(), n),
        "oracle_relevance": round(float(oracle.mean()), 6) if oracle.len() else None,
        "engaged_rate_by_page": by_page("engaged"),
        "likes_per_impression_by_page": by_page("like"),
        "skips_per_impression_by_page": by_page("skip"),
        "oracle_relevance_by_page": [round(float(at[p]["oracle"]), 6)
                                     if p in at and at[p]["oracle"] is not None else None
                                     for p in range(1, pages + 1)],
        "impressions_by_page": [int(at[p]["n"]) if p in at else 0 for p in range(1, pages + 1)],
        "persons_by_page": [int(at[p]["persons"]) if p in at else 0
                            for p in range(1, pages + 1)],
        "engaged_rate_by_session": [_rate(nth[k]["engaged"], nth[k]["n"]) if k in nth
                                    else None for k in range(1, most + 1)],
        "sessions_by_number": [int((sessions["session"] == k).sum())
                               for k in range(1, most + 1)],
        "repeats": int(imps["repeat"].sum()),
        "unknown_items": int(imps["unknown"].sum()),
        "stops": {s: int((sessions["stop"] == s).sum()) for s in STOPS},
        "session": {name: _distribution(sessions[name])
                    for name in ("impressions", "engaged", "likes", "pages")},
        "day": {name: _distribution(persons[name])
                for name in ("sessions", "impressions", "engaged", "likes")},
        "session_length_histogram": _histogram(sessions["impressions"]),
    }


def summarise(results: Sequence[SessionResult], world: TruthWorld, pages: int
              ) -> dict[str, object]:
    """One mode's block of the JSON: everyone, then each cohort alone."""
    imps, persons = impressions_frame(results, world), persons_frame(results)
    sessions = sessions_frame(results)
    block = _block(imps, sessions, persons, pages)
    block["cohorts"] = {c: _block(imps.filter(pl.col("cohort") == c),
                                  sessions.filter(pl.col("cohort") == c),
                                  persons.filter(pl.col("cohort") == c), pages)
                        for c in COHORTS}
    return block
