"""`reelrank run`: the nightly job, in-process, on the same definitions `dagster dev` shows.

An empty home first gets the default synthetic world in its landing area, so `make run` on a
fresh checkout has something real to chew on. Every run ends by writing its HTML report to
HOME/reports/<run id>.html (and a copy at HOME/reports/latest.html).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import dagster as dg

from cli.report import write_report
from cli.summary import RunSummary
from pipelines.definitions import (
    INGEST_JOB,
    NIGHTLY_GROUPS,
    NIGHTLY_JOB,
    REFRESH_JOB,
    SCORE_JOB,
    build_definitions,
    keys_in,
    refresh_keys,
    score_job,
    score_run_config,
)
from pipelines.instance import instance_for
from pipelines.planning import run_plan
from pipelines.resources import EmbedderResource, HomeResource
from reelrank.contracts import INGEST_ORDER
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["RunSummary", "run_nightly", "score_feeds", "seed_default_world"]

Say = Callable[[str], None]


def _is_empty(home: DataHome) -> bool:
    with home.writing(timeout_s=60) as con:
        return not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'"
        ).fetchall()[0][0]


# World files that hold what the home must not keep once ingested (raw IPs, chat text):
# moved into the landing batch, whose copy ingestion scrubs, rather than linked.
_MOVED = ("events", "chats.parquet")


def seed_default_world(home: DataHome, users: int, days: int, seed: int, say: Say) -> Path:
    """Generate the default world (kept under worlds/ with its ground truth and social
    tables, which the offline evaluation's oracle reads) and land its input files for the
    next run: hard links, no copy of anything, except the event log and chats, which move
    to the batch (a link would keep their IPs and texts under worlds/ after the ingested
    batch is scrubbed). A world whose event log has moved out is generated again."""
    from reelrank.simulate import simulate

    world = home.dir("worlds") / f"default-u{users}-d{days}-s{seed}"
    if not (world / "world.json").is_file() or not (world / "events").is_dir():
        say(f"empty home: generating the default synthetic world ({users:,} users x "
            f"{days} days, seed {seed}) in {world}")
        simulate(world, users=users, days=days, seed=seed, progress=say, overwrite=True)
    batch = home.dir("landing") / world.name
    for path in world.rglob("*"):
        relative = path.relative_to(world)
        if relative.parts[0] in ("truth", *_MOVED) or not path.is_file():
            continue
        target = batch / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(path, target)
    for name in _MOVED:
        if (world / name).exists() and not (batch / name).exists():
            (world / name).rename(batch / name)
    return world


def _rows(home: DataHome) -> tuple[dict[str, int], int]:
    with home.writing(timeout_s=60) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in INGEST_ORDER if t in tables}
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    return rows, int(quarantined)


def run_nightly(home: DataHome, *, users: int | None = None, days: int | None = None,
                seed: int | None = None, progress: Say | None = None,
                embedder: EmbedderResource | None = None, evaluate: bool = False,
                refresh: bool = False, processes: int = 1) -> RunSummary:
    """`processes`: score the shards in up to this many processes at once, on Dagster's
    multiprocess executor (1: in this process). `evaluate`: also run the offline evaluation (`reelrank evaluate`; it trains a second
    ranker) and put its table in the report. `refresh`: the intraday refresh instead of the
    nightly job (features and the content index from what happened since, the current
    ranker: no retraining), then scoring and publishing as after a nightly run."""
    say = progress or (lambda _line: None)
    settings = home.settings
    notes: list[str] = []
    if _is_empty(home) and not any(p.is_dir() for p in home.dir("landing").iterdir()
                                   if not p.name.startswith(".")):
        world = seed_default_world(
            home, users or settings.default_world_users, days or settings.default_world_days,
            settings.default_world_seed if seed is None else seed, say)
        notes.append(f"world:       {world} (synthetic, with ground truth in truth/)")
    defs = build_definitions(home.root, embedder)
    logging = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    started = time.perf_counter()
    failed: list[str] = []
    with instance_for(home) as instance:
        # Ingest first, as its own run: the nightly run's partition range (the event days
        # that changed) is only known once the landed files are in.
        say("stage 1/3: ingest landed files")
        ingest = defs.resolve_job_def(INGEST_JOB).execute_in_process(
            instance=instance, raise_on_error=False, run_config=logging)
        failed += _failed_checks(ingest)
        job, keys = (REFRESH_JOB, refresh_keys()) if refresh else (NIGHTLY_JOB,
                                                                    keys_in(NIGHTLY_GROUPS))
        tags, selection = run_plan(instance, HomeResource(path=str(home.root)), keys)
        span = (f"event days {tags['dagster/asset_partition_range_start']} .. "
                f"{tags['dagster/asset_partition_range_end']}" if tags else "no changed days")
        say(f"stage 2/3: {job} job ({span})")
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, raise_on_error=False, run_config=logging, tags=tags,
            asset_selection=selection) if ingest.success else ingest
        failed += _failed_checks(result) if result is not ingest else []
        scored = None
        if result.success and ingest.success:
            say("stage 3/3: batch scoring and publishing feeds"
                + (f" ({processes} processes)" if processes > 1 else ""))
            scored = _score(defs, instance, home, logging, processes)
        run_id = result.run_id
        success = ingest.success and result.success and scored is not None and scored.success
        runs = tuple(dict.fromkeys(r.run_id for r in (ingest, result, scored) if r is not None))
    rows, quarantined = _rows(home)
    seconds = time.perf_counter() - started
    evaluation = None
    if evaluate and success:
        say("offline evaluation (temporal holdout)")
        try:
            evaluation = _evaluate(home, say)
        except ReelrankError as exc:  # e.g. too few days of events yet: the run stands
            notes.append(f"evaluation:  skipped ({exc})")
    summary = RunSummary(home.root, run_id, success, seconds, rows, quarantined,
                         tuple(failed), tuple(notes), runs)
    reports = home.dir("reports")
    path = write_report(home, summary, reports / f"{run_id}.html", evaluation=evaluation)
    latest = reports / "latest.html.tmp"
    shutil.copyfile(path, latest)
    latest.replace(reports / "latest.html")
    return replace(summary, report=path)


def score_feeds(home: DataHome, processes: int = 1,
                embedder: EmbedderResource | None = None):
    """Run only the score job (a new snapshot from the warehouse as it is, every shard's
    feeds, publishing): what `run_nightly`'s stage 3 runs."""
    defs = build_definitions(home.root, embedder)
    with instance_for(home) as instance:
        return _score(defs, instance, home, {"loggers": {"console": {"config": {
            "log_level": "INFO"}}}}, processes)


def _score(defs: dg.Definitions, instance, home: DataHome, logging: dict, processes: int):
    """The score job: in this process, or its shard steps on the multiprocess executor
    (each step process rebuilds the definitions from `REELRANK_HOME`)."""
    if processes <= 1:
        return defs.resolve_job_def(SCORE_JOB).execute_in_process(
            instance=instance, raise_on_error=False, run_config=logging)
    os.environ["REELRANK_HOME"] = str(home.root.resolve())
    return dg.execute_job(dg.reconstructable(score_job), instance,
                          run_config={**logging, **score_run_config(processes)},
                          raise_on_error=False)


def _evaluate(home: DataHome, say: Say) -> dict[str, dict[str, float]]:
    """The offline evaluation's metrics per model, as `reelrank evaluate` computes them
    (with the oracle when the home holds exactly one synthetic world)."""
    from ranking.evaluate import evaluate

    worlds = [p for p in home.dir("worlds").iterdir() if (p / "truth").is_dir()]
    world = worlds[0] if len(worlds) == 1 else None
    with home.writing(timeout_s=600) as con:
        return evaluate(con, home.settings, world=world, progress=say).models


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [f"{e.asset_key.to_user_string()}:{e.check_name}"
            for e in result.get_asset_check_evaluations() if not e.passed]
