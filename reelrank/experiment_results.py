"""Results of an experiment from its exposures and the events that followed them.

An event counts for an exposure when the same user acted on the same item at or after it was
served, within `attribution_hours` (the feed serves an item to a user at most once per
`served_window_hours`, so one exposure owns it). Rates are per impression, with 95%
confidence intervals that treat the user as the unit (the delta method for a ratio of
per-user sums: a heavy scroller's impressions are not independent draws). Each variant is
compared with the first (the control) by a two-sided t test on the difference of engaged
rates (Student's t with the users of both variants less two as degrees of freedom). A sample-ratio check compares the users per variant with the shares asked for
(chi-square; flagged below p = 0.001: the assignment or the logging is broken, and no result
of the experiment should be trusted).

Interleaving credits each engaged item to the team that picked it; per user, the team with
more credits wins. The preference is (wins of A + ties / 2) / users - 0.5 (positive: A
better). Its p-value is a paired t test on the per-user credit difference (each user is
their own control); the sign test over the users with a winner is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import polars as pl
from scipy import stats

from reelrank.control import experiments as store
from reelrank.control.connection import stamp
from reelrank.errors import ReelrankError
from reelrank.experiments import Experiment
from reelrank.home import DataHome

__all__ = ["ENGAGED", "experiment_events", "experiment_frames", "experiment_results",
           "results_of"]

ENGAGED = ("complete", "like", "comment", "share", "remix")
_Z = 1.959963984540054


def _outcomes(exposures: pl.DataFrame, events: pl.DataFrame, hours: float) -> pl.DataFrame:
    """Exposures with one boolean column per outcome."""
    x = exposures.with_columns(pl.col("served_at").str.to_datetime(time_zone="UTC")
                               .alias("_at"), pl.int_range(pl.len()).alias("_row"))
    e = events.select("user_id", "item_id", "event_type",
                      pl.col("ts").cast(pl.Datetime("us", "UTC")).alias("_ts"))
    joined = x.select("_row", "user_id", "item_id", "_at").join(
        e, on=["user_id", "item_id"], how="inner").filter(
        (pl.col("_ts") >= pl.col("_at") - pl.duration(seconds=5))
        & (pl.col("_ts") <= pl.col("_at") + pl.duration(seconds=int(hours * 3600))))
    flags = joined.group_by("_row").agg(
        pl.col("event_type").is_in(list(ENGAGED)).any().alias("engaged"),
        (pl.col("event_type") == "complete").any().alias("completed"),
        (pl.col("event_type") == "like").any().alias("liked"),
        (pl.col("event_type") == "share").any().alias("shared"))
    return x.join(flags, on="_row", how="left").with_columns(
        pl.col("engaged", "completed", "liked", "shared").fill_null(False))


def _ratio(per_user: pl.DataFrame, column: str) -> dict[str, float]:
    """Sum of `column` over impressions, with the user-clustered 95% interval."""
    num = per_user[column].to_numpy().astype(float)
    den = per_user["impressions"].to_numpy().astype(float)
    k = len(num)
    if k == 0 or den.sum() == 0:
        return {"rate": math.nan, "low": math.nan, "high": math.nan, "se": math.nan}
    rate = num.sum() / den.sum()
    se = math.sqrt(np.var(num - rate * den, ddof=1) / k) / den.mean() if k > 1 else math.nan
    return {"rate": rate, "low": rate - _Z * se, "high": rate + _Z * se, "se": se}


def _ab(experiment: Experiment, x: pl.DataFrame) -> dict[str, object]:
    out, control = {}, None
    for v in experiment.variants:
        mine = x.filter(pl.col("variant") == v.name)
        per_user = mine.group_by("user_id").agg(
            pl.len().alias("impressions"), pl.col("engaged").sum(),
            pl.col("completed").sum(), pl.col("liked").sum(), pl.col("shared").sum(),
            pl.col("_at").dt.date().n_unique().alias("days"))
        sessions = (per_user["impressions"] / per_user["days"]).to_numpy() \
            if per_user.height else np.empty(0)
        block = {"users": per_user.height, "impressions": mine.height,
                 **{name: _ratio(per_user, col) for name, col in (
                     ("engaged_rate", "engaged"), ("completions_per_impression", "completed"),
                     ("likes_per_impression", "liked"), ("shares_per_impression", "shared"))},
                 "session_length": _mean(sessions)}
        if control is None:
            control = block
        else:
            a, b = control["engaged_rate"], block["engaged_rate"]
            diff = b["rate"] - a["rate"]
            se = math.sqrt(a["se"] ** 2 + b["se"] ** 2)  # NaN when either has one user
            # Student's t rather than the normal: with few users per variant the interval
            # of a ratio is itself uncertain, and the normal would find differences in noise.
            df = max(control["users"] + block["users"] - 2, 1)
            p = float(2 * stats.t.sf(abs(diff) / se, df)) if se > 0 else math.nan
            block["vs_control"] = {"engaged_rate_diff": diff, "low": diff - _Z * se,
                                   "high": diff + _Z * se, "p_value": p}
        out[v.name] = block
    return {"variants": out, "sample_ratio": _srm(experiment, {n: b["users"]
                                                              for n, b in out.items()})}


def _mean(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan}
    m = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return {"mean": m, "low": m - _Z * se, "high": m + _Z * se}


def _srm(experiment: Experiment, users: Mapping[str, int]) -> dict[str, object]:
    total = sum(users.values())
    shares = np.array([v.share for v in experiment.variants], dtype=float)
    observed = np.array([users[v.name] for v in experiment.variants], dtype=float)
    if total == 0 or len(shares) < 2:
        return {"p_value": None, "mismatch": False, "users": dict(users)}
    expected = shares / shares.sum() * total
    p = float(stats.chisquare(observed, expected).pvalue)
    return {"p_value": p, "mismatch": p < 0.001, "users": dict(users)}


def _interleave(experiment: Experiment, x: pl.DataFrame) -> dict[str, object]:
    a, b = (v.name for v in experiment.variants)
    per_user = x.group_by("user_id").agg(
        (pl.col("engaged") & (pl.col("team") == a)).sum().alias("a"),
        (pl.col("engaged") & (pl.col("team") == b)).sum().alias("b"),
        pl.len().alias("impressions"))
    wins_a = int((per_user["a"] > per_user["b"]).sum())
    wins_b = int((per_user["b"] > per_user["a"]).sum())
    ties = per_user.height - wins_a - wins_b
    n = per_user.height
    preference = (wins_a + ties / 2) / n - 0.5 if n else math.nan
    sign = float(stats.binomtest(wins_a, wins_a + wins_b, 0.5).pvalue) \
        if wins_a + wins_b else None
    # Each user is their own control: the paired test on the per-user credit difference
    # uses how much a team won by, not only whether (the sign test), so it needs fewer users.
    # Signed before subtracting: the per-user sums are unsigned, and 2 - 3 must be -1.
    diff = (per_user["a"].cast(pl.Int64) - per_user["b"].cast(pl.Int64)).to_numpy().astype(float)
    paired = float(stats.ttest_1samp(diff, 0.0).pvalue) \
        if n > 1 and diff.std() > 0 else None
    credits = {a: int(per_user["a"].sum()), b: int(per_user["b"].sum())}
    return {"teams": [a, b], "users": n, "impressions": x.height, "wins": {a: wins_a, b: wins_b},
            "ties": ties, "credits": credits, "preference": preference,
            "credit_diff_per_user": float(diff.mean()) if n else None,
            "p_value": paired, "sign_test_p": sign,
            "picks": {t: int((x["team"] == t).sum()) for t in (a, b)}}


def experiment_results(experiment: Experiment, exposures: pl.DataFrame, events: pl.DataFrame,
                       *, attribution_hours: float = 24.0) -> dict[str, object]:
    """The experiment's results as JSON-ready dicts. `exposures`: request_id, position,
    variant, team, user_id, item_id, served_at (stamp text); `events`: user_id, item_id,
    event_type, ts (datetime)."""
    head = {"experiment": experiment.name, "kind": experiment.kind,
            "exposures": exposures.height}
    if exposures.is_empty():
        return {**head, "users": 0}
    x = _outcomes(exposures, events, attribution_hours)
    head["users"] = x["user_id"].n_unique()
    body = _interleave(experiment, x) if experiment.kind == "interleave" else _ab(experiment, x)
    return {**head, **body}


def experiment_events(home: DataHome, experiment: Experiment) -> pl.DataFrame:
    """(user_id, item_id, event_type, ts) since the experiment started: the inbox's, then
    the warehouse's (those drained there), without duplicates."""
    from reelrank.control.inbox import events_after

    con = home.control()
    try:
        rows, seq = [], 0
        while batch := events_after(con, seq):
            rows += [(u, i, k, ts) for _s, u, i, k, ts, _at in batch if ts >= experiment.starts_at]
            seq = batch[-1][0]
    finally:
        con.close()
    frames = []
    if rows:
        frames.append(pl.DataFrame(rows, schema=["user_id", "item_id", "event_type", "ts"],
                                   orient="row").with_columns(
            pl.col("ts").str.to_datetime(time_zone="UTC")))
    if home.warehouse_path.is_file():
        import duckdb

        try:
            wh = home.warehouse(read_only=True)
        except duckdb.IOException:
            wh = None  # a run is writing it: the inbox's events only
        if wh is not None:
            try:
                frames.append(wh.sql(
                    "SELECT user_id, item_id, event_type, ts FROM events WHERE ts >= "
                    "$start::TIMESTAMPTZ AND item_id IS NOT NULL",
                    params={"start": experiment.starts_at}).pl())
            except duckdb.CatalogException:
                pass
            finally:
                wh.close()
    if not frames:
        return pl.DataFrame(schema={"user_id": pl.Utf8, "item_id": pl.Utf8,
                                    "event_type": pl.Utf8, "ts": pl.Datetime("us", "UTC")})
    frames = [f.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))) for f in frames]
    if len(frames) == 2 and frames[0].schema != frames[1].schema:
        frames = [f.cast({c: frames[1].schema[c] for c in f.columns}) for f in frames]
    return pl.concat(frames).unique(maintain_order=True)


def experiment_frames(home: DataHome, name: str
                      ) -> tuple[Experiment, pl.DataFrame, pl.DataFrame]:
    """The experiment, its exposures and the events since it started, as
    `experiment_results` takes them."""
    con = home.control()
    try:
        experiment = store.get(con, name)
        if experiment is None:
            raise ReelrankError(f"no experiment named {name!r}")
        rows = store.exposures_of(con, name)
    finally:
        con.close()
    exposures = pl.DataFrame(rows, schema=["request_id", "position", "variant", "team",
                                           "user_id", "item_id", "served_at"], orient="row",
                             schema_overrides={"team": pl.Utf8})
    events = experiment_events(home, experiment)
    if exposures.height and events.height:
        events = events.cast({"user_id": exposures.schema["user_id"],
                              "item_id": exposures.schema["item_id"]}, strict=False)
    return experiment, exposures, events


def results_of(home: DataHome, name: str) -> dict[str, object]:
    experiment, exposures, events = experiment_frames(home, name)
    out = experiment_results(experiment, exposures, events)
    out["definition"] = experiment.as_json(stamp(datetime.now(UTC)))
    return out
