"""The HTML report of one `reelrank run`: a single self-contained file (plots embedded as
base64 PNG, no script, nothing fetched) saying what the run did and what it published.

Sections: the run (status, time, rows, serving snapshot); ranker metrics (the serving
ranker's validation NDCG from its meta.json, plus the offline evaluation table when the run
was asked for one: evaluating trains a second ranker, too slow to do every night); the
published feeds (users, items per user, source mix, scores); asset checks and step timings,
read back from the home's Dagster instance, so a report can be rebuilt for any recorded run;
and the latest saved session simulation (`reelrank simulate sessions`), if there is one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from cli.benchmark import benchmark_section
from cli.experiments import experiments_section
from cli.html import bars as _bars
from cli.html import escape as _e
from cli.html import figure_class as _figure_class
from cli.html import fmt as _fmt
from cli.html import histogram as _histogram
from cli.html import table as _table
from cli.sessions.section import sessions_section
from cli.summary import RunSummary
from pipelines.instance import instance_for
from reelrank.home import DataHome

__all__ = ["write_report"]

Evaluation = Mapping[str, Mapping[str, float]]   # model -> metric -> value

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:64em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#b00;font-weight:bold}.ok{color:#070}img{max-width:100%}figure{margin:1em 0}
figcaption{color:#555;font-size:90%}"""


@dataclass(frozen=True)
class _Run:
    job: str
    run_id: str
    status: str
    seconds: float


@dataclass(frozen=True)
class _Step:
    job: str
    step: str
    status: str
    seconds: float


@dataclass(frozen=True)
class _Check:
    job: str
    asset: str
    name: str
    passed: bool
    detail: str


def write_report(home: DataHome, summary: RunSummary, out_path: Path, *,
                 evaluation: Evaluation | None = None) -> Path:
    """Write the report of `summary`'s run to `out_path` (atomically) and return it.
    Only reads the home: its Dagster instance, serving ranker and latest feeds."""
    runs, steps, checks = _dagster(home, summary.runs or (summary.run_id,))
    feeds = _feeds(home)
    figure = _figure_class()
    body = [_run_section(home, summary, runs),
            _metrics_section(home, evaluation, figure),
            _feeds_section(feeds, summary.success, figure),
            _checks_section(checks),
            _timings_section(runs, steps, figure),
            sessions_section(home, figure),
            benchmark_section(home, figure),
            experiments_section(home, figure)]
    status = "succeeded" if summary.success else "FAILED"
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>reelrank run {_e(summary.run_id[:8])} {status}</title>"
            f"<style>{_CSS}</style></head><body>\n"
            f"<h1>reelrank run {_e(summary.run_id[:8])} "
            f"<span class=\"{'ok' if summary.success else 'fail'}\">{status}</span></h1>\n"
            + "\n".join(body)
            + f"\n<p><small>written {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
            + ("" if figure else "; plots left out: matplotlib is not installed")
            + "</small></p>\n</body></html>\n")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_path)
    return out_path


# --- reading the home ---------------------------------------------------------------------

def _dagster(home: DataHome, run_ids: Iterable[str]
             ) -> tuple[list[_Run], list[_Step], list[_Check]]:
    runs: list[_Run] = []
    steps: list[_Step] = []
    checks: list[_Check] = []
    with instance_for(home) as instance:
        for run_id in dict.fromkeys(run_ids):
            run = instance.get_run_by_id(run_id)
            if run is None:
                continue
            stats = instance.get_run_stats(run_id)
            runs.append(_Run(run.job_name, run_id, run.status.value,
                             _span(stats.start_time, stats.end_time)))
            steps += [_Step(run.job_name, s.step_key, s.status.value if s.status else "-",
                            _span(s.start_time, s.end_time))
                      for s in instance.get_run_step_stats(run_id)]
            records = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
            for record in records:
                data = record.event_log_entry.dagster_event.event_specific_data
                checks.append(_Check(run.job_name, data.asset_key.to_user_string(),
                                     data.check_name, data.passed, _detail(data.metadata)))
    return runs, steps, checks


def _span(start: float | None, end: float | None) -> float:
    return end - start if start is not None and end is not None else math.nan


def _detail(metadata: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={getattr(v, 'value', v)}" for k, v in metadata.items())


def _feeds(home: DataHome) -> pl.DataFrame | None:
    parts = sorted((home.dir("feeds") / "latest").glob("part-*.parquet"))
    return pl.scan_parquet(parts).collect() if parts else None


def _ranker_meta(home: DataHome) -> tuple[str, dict] | None:
    """(where, meta.json) of the serving ranker: the published snapshot's copy, else the
    promoted one (a run that failed before publishing)."""
    snapshot = home.dir("snapshots") / "latest"
    current = home.dir("models") / "ranker" / "current"
    for directory, where in ((snapshot / "ranker", f"in snapshot {_snapshot_name(home)}"),
                             (current, f"promoted {current.resolve().name}")):
        path = directory / "meta.json"
        if path.is_file():
            return where, json.loads(path.read_text())
    return None


def _snapshot_name(home: DataHome) -> str | None:
    latest = home.dir("snapshots") / "latest"
    return latest.resolve().name if latest.exists() else None


# --- sections -----------------------------------------------------------------------------

def _run_section(home: DataHome, summary: RunSummary, runs: list[_Run]) -> str:
    snapshot = _snapshot_name(home)
    facts = [("run id", summary.run_id), ("data home", str(summary.home)),
             ("wall time", f"{summary.seconds:.1f} s"),
             ("serving snapshot", snapshot or "none published yet"),
             ("Dagster runs", ", ".join(f"{r.job} {r.run_id[:8]} ({r.status})" for r in runs)),
             ("quarantined records", f"{summary.quarantined:,}")]
    facts += [("failed check", c) for c in summary.failed_checks]
    facts += [("note", n) for n in summary.notes]
    rows = [(t, f"{n:,}") for t, n in summary.rows.items()]
    return ("<section id=\"run\"><h2>Run</h2>" + _table(("", ""), facts, show_header=False)
            + "<h3>Warehouse rows</h3>" + _table(("table", "rows"), rows) + "</section>")


def _metrics_section(home: DataHome, evaluation: Evaluation | None, figure) -> str:
    out = ["<section id=\"metrics\"><h2>Ranker metrics</h2>"]
    meta = _ranker_meta(home)
    if meta is None:
        out.append("<p>No ranker yet (too little history): feeds are ranked by the "
                   "fallback scorer.</p>")
        rows: list[tuple[str, str]] = []
    else:
        where, data = meta
        metrics = data.get("metrics", {})
        rows = [("ranker", where), ("features", str(len(data.get("features", []))))]
        rows += [(k, _fmt(v)) for k, v in metrics.items()]
        out.append("<p>The serving ranker's own metrics (its <code>meta.json</code>): "
                   "validation NDCG@10 on the days held out for early stopping.</p>")
    out.append(_table(("metric", "value"), rows, table_id="metrics-table"))
    if evaluation:
        columns = list(dict.fromkeys(c for metrics in evaluation.values() for c in metrics))
        header = ("model", *columns)
        table = [(m, *(_fmt(v.get(c)) for c in columns)) for m, v in evaluation.items()]
        out.append("<h3>Offline evaluation (temporal holdout)</h3>"
                   + _table(header, table, table_id="evaluation-table"))
        ndcg = {m: v["ndcg@10"] for m, v in evaluation.items() if "ndcg@10" in v}
        if figure and ndcg:
            out.append(_bars(figure, ndcg, "NDCG@10 on the test days", "NDCG@10"))
    else:
        out.append("<p>Offline evaluation against the baselines was not run with this run "
                   "(it trains a second ranker); see <code>reelrank evaluate</code>.</p>")
    return "".join(out) + "</section>"


def _feeds_section(feeds: pl.DataFrame | None, success: bool, figure) -> str:
    out = ["<section id=\"feeds\"><h2>Published feeds</h2>"]
    if not success:
        out.append("<p class=\"fail\">This run failed: the feeds below are the last good "
                   "ones, which are still being served.</p>")
    if feeds is None or feeds.is_empty():
        return "".join(out) + "<p>No feeds published yet.</p></section>"
    per_user = feeds.group_by("user_id").len()["len"]
    facts = [("users", f"{per_user.len():,}"), ("feed rows", f"{feeds.height:,}"),
             ("items per user (mean)", f"{per_user.mean():.1f}"),
             ("items per user (min / median / max)",
              f"{per_user.min()} / {per_user.median():.0f} / {per_user.max()}"),
             ("distinct items", f"{feeds['item_id'].n_unique():,}")]
    out.append(_table(("", ""), facts, show_header=False, table_id="feeds-table"))
    mix = (feeds.select(pl.col("source").str.split(",")).explode("source")
           .group_by("source").len().sort(["len", "source"], descending=[True, False]))
    share = {s: n / feeds.height for s, n in mix.iter_rows()}
    out.append(_table(("source", "share of feed items"),
                      [(s, f"{v:.1%}") for s, v in share.items()], table_id="sources-table"))
    if figure:
        out.append(_bars(figure, share, "Source mix: share of feed items each source "
                         "proposed (an item can come from several)", "share of items"))
        out.append(_histogram(figure, feeds["score"].drop_nans().drop_nulls().to_numpy(),
                              "Score distribution over every feed row", "score"))
    return "".join(out) + "</section>"


def _checks_section(checks: list[_Check]) -> str:
    failed = sum(not c.passed for c in checks)
    ordered = sorted(checks, key=lambda c: c.passed)    # failures first, else in run order
    rows = [(c.job, c.asset, c.name,
             "<span class=\"ok\">passed</span>" if c.passed else "<span class=\"fail\">FAILED"
             "</span>", c.detail) for c in ordered]
    return (f"<section id=\"checks\"><h2>Asset checks</h2><p>{len(checks)} evaluated, "
            f"{failed} failed.</p>"
            + _table(("job", "asset", "check", "result", "detail"), rows,
                     table_id="checks-table", raw_columns=frozenset({3}))
            + "</section>")


def _timings_section(runs: list[_Run], steps: list[_Step], figure) -> str:
    out = ["<section id=\"timings\"><h2>Timings</h2>",
           _table(("job", "run", "status", "seconds"),
                  [(r.job, r.run_id[:8], r.status, f"{r.seconds:.2f}") for r in runs],
                  table_id="runs-table")]
    slow = sorted(steps, key=lambda s: -s.seconds if not math.isnan(s.seconds) else 0)
    if figure and steps:
        out.append(_bars(figure, {f"{s.job}: {s.step}": s.seconds for s in slow[:15]},
                         "Slowest steps (seconds)", "seconds", horizontal=True))
    out.append(_table(("job", "step", "status", "seconds"),
                      [(s.job, s.step, s.status, f"{s.seconds:.2f}") for s in steps],
                      table_id="steps-table"))
    return "".join(out) + "</section>"
