"""Landing batches load one by one: a batch that fails as a whole (a file breaking its
contract) stays in landing/ with its error, and does not hold back the batches after it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cli.runner import run_nightly
from pipelines.instance import instance_for
from pipelines.resources import EmbedderResource
from reelrank.home import DataHome
from tests.conftest import tiny_world

HEADER = "event_id,user_id,item_id,event_type,ts,watch_ms,ip"


def _event_ids(home: DataHome) -> list[str]:
    con = home.warehouse(read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT event_id FROM events ORDER BY 1").fetchall()]
    finally:
        con.close()


def test_a_batch_that_fails_as_a_whole_does_not_hold_back_the_next(tmp_path: Path) -> None:
    """The nightly job loads every landing batch it can: one whose file breaks its contract
    (a required column missing) stays in landing/ with its error, and the next one loads."""
    home = DataHome.open(tmp_path / "h")
    broken = tiny_world(home.dir("landing") / "batch-1")
    (broken / "follows.csv").write_text("follower_id,created_at\nu1,2026-01-05\n")
    second = home.dir("landing") / "batch-2"
    second.mkdir()
    # A day after batch-1's events (Jan 5 and 6): event-day partitions are kept in the order
    # they are first seen, and a range over days seen out of order selects nothing.
    (second / "events.csv").write_text(
        HEADER + "\ns1,u1,v1,like,2026-01-07T12:00:00Z,,8.8.8.8\n")
    summary = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    # batch-1 loaded the tables before its broken file, then stopped; batch-2 loaded.
    assert (home.dir("landing") / "batch-1").is_dir()
    assert not second.exists()
    assert [p.name.split("-", 1)[1] for p in (home.dir("landing") / ".done").iterdir()] == [
        "batch-2"]
    assert summary.rows["users"] == 3
    assert _event_ids(home) == ["s1"]
    with instance_for(home) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "events"]))
        failed = event.asset_materialization.metadata["failed_batches"].value
    assert list(failed) == ["batch-1"]
    assert "follows.csv: missing required column(s) followee_id" in failed["batch-1"]
    # Fixed in place, the batch loads on the next run, the tables it had loaded unchanged.
    (broken / "follows.csv").write_text("follower_id,followee_id,created_at\nu1,u2,2026-01-05\n")
    again = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
    assert again.success, again.render()
    assert not (home.dir("landing") / "batch-1").exists()
    assert again.rows["follows"] == 1 and again.rows["users"] == 3
    assert _event_ids(home) == ["e1", "e2", "e3", "e4", "s1"]


def test_late_events_for_an_older_day_are_rolled_up(tmp_path: Path) -> None:
    """Event-day partitions keep the order days were first seen; a late batch with a day
    older than all of them (and one already known) still gets both rolled up."""
    home = DataHome.open(tmp_path / "h")
    tiny_world(home.dir("landing") / "batch-1")                # events on Jan 5 and 6
    fast = EmbedderResource(backend="hashing")
    assert run_nightly(home, embedder=fast).success
    late = home.dir("landing") / "batch-2"
    late.mkdir()
    (late / "events.csv").write_text(HEADER + "\nl1,u1,v1,impression,2026-01-04T12:00:00Z,,\n"
                                     "l2,u3,v2,like,2026-01-06T13:00:00Z,,\n")
    summary = run_nightly(home, embedder=fast)
    assert summary.success, summary.render()
    con = home.warehouse(read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM dirty_days").fetchall() == [(0,)]
        days = {r[0].isoformat(): r[1] for r in con.execute(
            "SELECT day, sum(impressions + likes) FROM engagement_daily GROUP BY day"
        ).fetchall()}
    finally:
        con.close()
    assert "2026-01-04" in days and days["2026-01-06"] >= 2
