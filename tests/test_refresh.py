"""The intraday refresh: what happened since the nightly run reaches a new serving snapshot,
ranked by the current ranker (no retraining), published and picked up like any other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from cli.runner import run_nightly
from pipelines.resources import EmbedderResource
from reelrank.control.inbox import accept_events
from reelrank.home import DataHome
from tests.test_api_support import copy_home


def test_the_refresh_publishes_a_snapshot_with_the_current_ranker(
        scored_home: DataHome, tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    before = (home.dir("snapshots") / "latest").resolve()
    rankers = sorted(p.name for p in (home.dir("models") / "ranker").iterdir())
    as_of = datetime.fromisoformat(before.name[:10]).replace(tzinfo=UTC)
    items = pl.read_parquet(before / "items.parquet")["item_id"].head(3).to_list()
    users = pl.read_parquet(before / "seen.parquet")["user_id"].unique().sort().head(2)
    at = as_of + timedelta(hours=9)  # the day after the snapshot's last events
    events = [{"event_id": f"r{n}", "user_id": u, "item_id": i, "event_type": "like",
               "ts": (at + timedelta(minutes=n)).isoformat()}
              for n, (u, i) in enumerate((u, i) for u in users for i in items)]
    control = home.control()
    assert accept_events(control, events, now=at + timedelta(hours=1))[0] == len(events)
    control.close()
    summary = run_nightly(home, embedder=EmbedderResource(backend="hashing"), refresh=True)
    assert summary.success, summary.render()
    after = (home.dir("snapshots") / "latest").resolve()
    assert after != before and after.name > before.name  # a newer as-of date
    assert sorted(p.name for p in (home.dir("models") / "ranker").iterdir()) == rankers
    assert (after / "ranker").is_dir() and (before / "ranker" / "model.txt").read_bytes() \
        == (after / "ranker" / "model.txt").read_bytes()
    feeds = (home.dir("feeds") / "latest").resolve()
    assert feeds.name == after.name
