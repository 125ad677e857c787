"""The run report: `reelrank run` writes one self-contained HTML file per run (and a
latest copy), names it in its summary, and the file holds the metrics table, the feed
statistics with embedded plots, the asset checks and the step timings."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

from cli.report import write_report
from cli.runner import RunSummary, run_nightly
from pipelines.instance import instance_for
from pipelines.resources import EmbedderResource
from reelrank.home import DataHome
from tests.conftest import tiny_world

FAST = EmbedderResource(backend="hashing")
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "wbr"}
PNG = b"\x89PNG\r\n\x1a\n"


class _Structure(HTMLParser):
    """Well-formedness: every element closed, in order; tables and images collected."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "img":
            self.images.append(values.get("src") or "")
        self.links += [v for k, v in attrs if k in {"href", "src"} and v]
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def parse(path: Path) -> tuple[str, _Structure]:
    text = path.read_text(encoding="utf-8")
    parser = _Structure()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>")
    assert parser.errors == [] and parser.open == [], (parser.errors, parser.open)
    return text, parser


def table(text: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', text, re.DOTALL)
    assert found, f"no table {table_id}"
    return found.group(1)


def summary_of(home: DataHome) -> RunSummary:
    """The summary `run_nightly` would have returned for the home's newest runs."""
    with instance_for(home) as instance:
        runs = [r.run_id for r in reversed(instance.get_runs())]
    return RunSummary(home.root, runs[1], True, 1.0, {"users": 1}, 0, runs=tuple(runs))


def test_a_run_writes_its_report_and_the_summary_names_it(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    tiny_world(home.dir("landing") / "batch-1")
    summary = run_nightly(home, embedder=FAST, evaluate=True)
    assert summary.success, summary.render()
    assert summary.report == home.root / "reports" / f"{summary.run_id}.html"
    assert f"report:      {summary.report}" in summary.render()
    latest = home.root / "reports" / "latest.html"
    assert latest.read_bytes() == summary.report.read_bytes()
    text, html = parse(summary.report)
    assert {"run", "metrics", "metrics-table", "feeds", "checks", "timings"} <= html.ids
    assert summary.run_id in text
    # Two days of events are too few to evaluate: the run stands, and says why.
    assert any(n.startswith("evaluation:  skipped") for n in summary.notes)
    assert "evaluation:  skipped" in text
    # Three Dagster runs (ingest, nightly, score), their steps and checks, read back.
    assert len(summary.runs) == 3 and summary.run_id in summary.runs
    assert "raw/events" in table(text, "checks-table")
    assert "scoring__feed_shards" in table(text, "steps-table")


def test_the_report_of_a_real_run_has_metrics_plots_checks_and_the_snapshot(
        scored_home: DataHome) -> None:
    report = scored_home.root / "reports" / "latest.html"
    text, html = parse(report)
    metrics = table(text, "metrics-table")
    assert "valid_ndcg@10" in metrics and "best_iteration" in metrics
    assert re.search(r"valid_ndcg@10</td><td class=\"n\">0\.\d{4}</td>", metrics)
    assert len(html.images) >= 3           # source mix, scores, step timings
    for src in html.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    assert all(link.startswith("data:") for link in html.links)   # nothing fetched
    snapshot = (scored_home.dir("snapshots") / "latest").resolve().name
    assert snapshot in text
    assert "ranker_not_worse" in table(text, "checks-table")
    feeds = table(text, "feeds-table")
    assert re.search(r"<td>users</td><td class=\"n\">[1-9]", feeds)
    sources = re.findall(r"<tr><td>(\w+)</td>", table(text, "sources-table"))
    assert sources and set(sources) <= {"similar", "collaborative", "graph", "trending", "fresh",
                                        "catalog"}


def test_the_report_shows_an_offline_evaluation_when_given(scored_home: DataHome,
                                                           tmp_path: Path) -> None:
    evaluation = {"ranker": {"ndcg@10": 0.8123, "recall@50": 0.61},
                  "most_popular": {"ndcg@10": 0.6501}}
    path = write_report(scored_home, summary_of(scored_home), tmp_path / "r.html",
                        evaluation=evaluation)
    text, _ = parse(path)
    rows = table(text, "evaluation-table")
    assert "0.8123" in rows and "0.6100" in rows and "0.6501" in rows
    assert any("NDCG@10" in alt for alt in re.findall(r'<img alt="([^"]*)"', text))
    assert not list(tmp_path.glob("*.tmp"))


def test_an_empty_home_still_gets_a_report(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    summary = RunSummary(home.root, "0" * 36, False, 0.1, {}, 0, ("raw/users:x",),
                         ("note <b>escaped</b>",))
    text, html = parse(write_report(home, summary, tmp_path / "out" / "r.html"))
    assert "FAILED" in text and "No feeds published yet" in text and "No ranker yet" in text
    assert "note &lt;b&gt;escaped&lt;/b&gt;" in text
    assert html.images == [] or all(s.startswith("data:image/png") for s in html.images)
