"""Nightly training: fit a candidate ranker on the newest days, and decide whether it may
replace the current one (it may not if it is worse on the same validation rows)."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from ranking.dataset import labelled_rows, training_days
from ranking.metrics import ndcg_at_k
from ranking.ranker import RankerParams, TrainedRanker, train_ranker
from reelrank.errors import NotEnoughHistoryError
from reelrank.settings import Settings

__all__ = [
    "CURRENT", "Candidate", "current_ranker", "current_ranker_dir", "promote", "should_promote",
    "train_candidate",
]

CURRENT = "current"


@dataclass(frozen=True)
class Candidate:
    path: Path
    ranker: TrainedRanker
    ndcg: float                  # validation NDCG@10 of the candidate
    current_ndcg: float | None   # the current ranker on the same rows (None: no current)


def current_ranker_dir(models: Path) -> Path | None:
    """The serving ranker's directory (None before the first promotion)."""
    link = models / "ranker" / CURRENT
    return link.resolve() if link.exists() else None


def current_ranker(models: Path) -> TrainedRanker | None:
    directory = current_ranker_dir(models)
    return TrainedRanker.load(directory) if directory is not None else None


def train_candidate(con: duckdb.DuckDBPyConnection, settings: Settings, models: Path,
                    as_of: date, params: RankerParams | None = None) -> Candidate:
    """Train on [as_of - train_days, as_of - valid_days), validate on the rest up to as_of."""
    valid_start = as_of - timedelta(days=settings.ranker_valid_days)
    (first,) = con.execute("SELECT min(day) FROM engagement_daily").fetchall()[0]
    if first is None:
        raise NotEnoughHistoryError("no engagement to train on")
    days = training_days(con, settings, as_of)[:-1]
    if not days:
        raise NotEnoughHistoryError(f"too few days to train: need more than "
                                    f"{settings.ranker_valid_days + 1} days of events")
    rows = labelled_rows(con, days[0], as_of, settings)
    train = rows.filter(pl.col("as_of") < valid_start)
    valid = rows.filter(pl.col("as_of") >= valid_start)
    params = params or RankerParams.from_settings(settings)
    if settings.training_backend == "dask":
        from ranking.ranker_dask import train_ranker_dask

        ranker = train_ranker_dask(train, valid, params, settings.dask_scheduler,
                                   workers=settings.dask_local_workers)
    else:
        ranker = train_ranker(train, valid, params)
    ndcg = _ndcg(ranker, valid)
    current = current_ranker(models)
    current_ndcg = None
    if current is not None and set(current.features) <= set(valid.columns):
        current_ndcg = _ndcg(current, valid)
    digest = hashlib.sha256(ranker.booster.model_to_string().encode()).hexdigest()[:10]
    path = ranker.save(models / "ranker" / f"{as_of.isoformat()}-{digest}")
    return Candidate(path, ranker, ndcg, current_ndcg)


def should_promote(candidate_ndcg: float | None, current_ndcg: float | None,
                   tolerance: float) -> bool:
    """A candidate replaces the current ranker unless it is worse on the same rows by more
    than `tolerance`. Without a current ranker, any candidate that was measured wins."""
    if candidate_ndcg is None or math.isnan(candidate_ndcg):
        return False
    return current_ndcg is None or candidate_ndcg >= current_ndcg - tolerance


def _ndcg(ranker: TrainedRanker, frame: pl.DataFrame) -> float:
    scored = frame.select("user_id", "as_of", "item_id", "label").with_columns(
        pl.Series("score", ranker.score(frame)))
    return ndcg_at_k(scored, 10, group=["user_id", "as_of"], score="score", label="label")


def promote(models: Path, candidate: Path) -> Path:
    """Point `models/ranker/current` at `candidate` (atomic symlink swap)."""
    link = models / "ranker" / CURRENT
    tmp = models / "ranker" / f".{CURRENT}-{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(candidate.name, target_is_directory=True)
    os.replace(tmp, link)
    return link
