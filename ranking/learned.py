"""The learned collaborative stage: `ranking.models.pipeline` fitted on the home's own log by
the nightly job, its best `learned_candidates` items per user saved for the snapshot.

Every source (popularity, trending, EASE, ALS, BPR, item-kNN, and where the log's order means
something recency-read kNN and EASE, co-occurrence and SASRec) is tuned on a validation carve
of the log itself, the LambdaMART second stage is kept only when it beats the best single
source on held-out validation users, and the winner recommends. Nothing here reads a test
split; the serving side (`ranking.sources.learned`, the `collaborative` scorer) reads only the
saved lists.

What counts as an interaction: on a choice-only log (ratings, plays) every logged row is
something the user picked; on an exposure log (the app's own, KuaiRec) only engagement
(completion or better) is, since an impression was the feed's choice, not the user's.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from reelrank.errors import NotEnoughHistoryError, ReelrankError
from reelrank.settings import Settings

__all__ = ["LISTS_FILE", "META_FILE", "LearnedReport", "build_learned", "drop_learned",
           "interactions_of", "log_kind", "pipeline_params"]

log = logging.getLogger(__name__)

LISTS_FILE = "lists.parquet"
META_FILE = "meta.json"
# Engagement that says the user chose the item on a log of exposures.
ENGAGED = ("complete", "like", "comment", "share", "remix")


@dataclass(frozen=True)
class LearnedReport:
    users: int
    items: int
    interactions: int
    chosen: str          # "stage2" or the single source that won on validation
    seconds: float
    report: dict


def log_kind(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("SELECT value FROM home_meta WHERE key = 'log_kind'").fetchall()
    return rows[0][0] if rows else "exposures"


def interactions_of(con: duckdb.DuckDBPyConnection, before: date | None = None,
                    kind: str | None = None) -> pl.DataFrame:
    """(user_id, item_id, ts seconds) of each user's first interaction with an item,
    before `before` when given."""
    kind = kind or log_kind(con)
    where = ["e.item_id IS NOT NULL"]
    params: dict[str, object] = {}
    if kind != "choices":
        where.append("list_contains($engaged::VARCHAR[], e.event_type)")
        params["engaged"] = list(ENGAGED)
    if before is not None:
        where.append("e.ts < $before::TIMESTAMPTZ")
        params["before"] = before
    sql = (f"SELECT e.user_id, e.item_id, min(epoch(e.ts))::DOUBLE AS ts FROM events e "
           f"WHERE {' AND '.join(where)} GROUP BY ALL")
    return con.sql(sql, params=params or None).pl()


def pipeline_params(settings: Settings, protocol: str | None = None):
    """The pipeline's parameters from the settings: the full validation grids, or one point
    per source (`learned_grid=small`, for tests and very large logs)."""
    from ranking.models.pipeline import PipelineParams
    from ranking.models.sequence import SequenceParams
    from ranking.models.stage2 import Stage2Params

    protocol = protocol or settings.learned_protocol
    if settings.learned_grid == "small":
        return PipelineParams(
            protocol=protocol, ease_scales=(1.0,), als_factors=(32,), als_regs=(1.0,),
            knn_ks=(50,), half_lives=(5.0,), trend_shares=(0.02,), cooc_windows=(20,),
            use_sequence=settings.learned_sequence,
            sequence=SequenceParams(max_len=20, dim=16, layers=1, epochs=2),
            stage2=Stage2Params(max_rounds=80))
    return PipelineParams(protocol=protocol, use_sequence=settings.learned_sequence)


def build_learned(frame: pl.DataFrame, settings: Settings, as_of: date, directory: Path,
                  progress: Callable[[str], None] = log.info) -> LearnedReport:
    """Fit the pipeline on `frame` (`interactions_of` before `as_of`: read it under the
    warehouse lock, fit after releasing it) and write each user's best `learned_candidates`
    items to `directory` (replaced whole). Raises `NotEnoughHistoryError` for a log too
    small to carve a validation from, and `ReelrankError` for a catalog above
    `learned_max_items`."""
    from ranking.models.interactions import code_interactions
    from ranking.models.pipeline import fit_pipeline

    started = time.perf_counter()
    if frame.height < settings.learned_min_interactions:
        raise NotEnoughHistoryError(
            f"{frame.height} interactions before {as_of}; the learned stage needs at least "
            f"learned_min_interactions ({settings.learned_min_interactions})")
    items = frame["item_id"].n_unique()
    if items > settings.learned_max_items:
        raise ReelrankError(f"{items:,} items interacted with: above learned_max_items "
                            f"({settings.learned_max_items:,}); the other sources serve")
    coded = code_interactions(frame, seed=settings.seed)
    progress(f"learned stage: fitting on {len(coded):,} interactions, {coded.n_users:,} "
             f"users, {coded.n_items:,} items")
    pipe = fit_pipeline(coded, pipeline_params(settings), seed=settings.seed)
    progress(f"learned stage: {pipe.chosen} chosen on validation "
             f"({pipe.report.get('timings_s')})")
    k = min(int(settings.learned_candidates), coded.n_items)
    users = np.arange(coded.n_users, dtype=np.int64)
    blocks = []
    for start in range(0, len(users), 2048):  # bounded memory: stage 2 pools per block
        block = users[start:start + 2048]
        top = pipe.recommend(block, k)
        ok = top >= 0
        blocks.append(pl.DataFrame({
            "user_id": np.repeat(coded.user_ids[block], ok.sum(axis=1)),
            "item_id": coded.item_ids[top[ok]],
            "rank": np.nonzero(ok)[1].astype(np.int32)}))
    lists = pl.concat(blocks)
    tmp = directory.parent / f".{directory.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        lists.write_parquet(tmp / LISTS_FILE, compression="zstd")
        seconds = round(time.perf_counter() - started, 1)
        meta = {"as_of": as_of.isoformat(), "chosen": pipe.chosen, "seconds": seconds,
                "users": coded.n_users, "items": coded.n_items, "interactions": len(coded),
                "per_user": k, "report": pipe.report}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str))
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return LearnedReport(coded.n_users, coded.n_items, len(coded), pipe.chosen, seconds,
                         pipe.report)


def drop_learned(directory: Path) -> None:
    """No learned lists this run: an older model's lists must not outlive it."""
    shutil.rmtree(directory, ignore_errors=True)

