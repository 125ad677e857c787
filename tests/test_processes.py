"""Batch scoring in parallel processes through Dagster's own machinery: `reelrank run
--processes N` runs the score job's shard steps on the multiprocess executor, and the feeds
it publishes are exactly those of scoring in one process."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cli.main import main
from cli.runner import score_feeds
from reelrank.home import DataHome


def _feeds(home: DataHome) -> pl.DataFrame:
    latest = (home.dir("feeds") / "latest").resolve()
    return pl.read_parquet(latest / "*.parquet").sort(["user_id", "position"]), latest


def test_two_processes_publish_the_feeds_one_process_does(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REELRANK_BATCH_SHARDS", "3")
    root = tmp_path / "home"
    assert main(["run", "--home", str(root), "--users", "300", "--days", "6",
                 "--seed", "4"]) == 0
    home = DataHome.open(root)
    one, first = _feeds(home)
    assert one.height > 0
    result = score_feeds(home, processes=2)
    assert result.success
    two, second = _feeds(home)
    assert second != first  # a new snapshot and feeds run were published
    assert sorted(p.name for p in second.glob("part-*.parquet")) == [
        f"part-{n:04d}.parquet" for n in range(3)]
    assert two.equals(one)
    # Each shard was its own step, and the steps ran in their own processes.
    events = [e for e in result.all_events if e.event_type_value == "STEP_START"]
    steps = {e.step_key for e in events}
    assert {f"scoring__feed_shards.score_shard_step[{n}]" for n in range(3)} <= steps
    pids = {e.pid for e in events if "score_shard_step" in e.step_key}
    assert len(pids) == 3 and home.dir("feeds").exists()
