"""The Dagster spine: definitions load, the instance config is what we claim, and the
nightly job runs on real files in a real home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import yaml

from cli.runner import run_nightly
from pipelines.definitions import NIGHTLY_JOB, build_definitions, defs
from pipelines.instance import instance_for
from pipelines.resources import EmbedderResource
from reelrank.home import DataHome
from tests.conftest import tiny_world

REPO = Path(__file__).resolve().parent.parent
# The real model is tested in tests/features; here a fast stand-in keeps runs short.
FAST = EmbedderResource(backend="hashing")


def test_definitions_load_with_the_nightly_job_and_schedule() -> None:
    job = defs.resolve_job_def(NIGHTLY_JOB)
    assert job.tags["reelrank/writes"] == "warehouse"
    assert defs.resolve_schedule_def("nightly_schedule").cron_schedule == "0 3 * * *"
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/users", "raw/items", "raw/events"} <= keys


def test_dagster_validates_the_code_location_from_the_repo_root(tmp_path: Path) -> None:
    env = {**os.environ, "REELRANK_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m",
         "pipelines.definitions"],
        check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_the_instance_queues_runs_and_allows_one_warehouse_writer(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["run_queue"]["tag_concurrency_limits"] == [
        {"key": "reelrank/writes", "value": "warehouse", "limit": 1}]
    home = DataHome.open(tmp_path / "h")
    with instance_for(home) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().tag_concurrency_limits[0]["limit"] == 1
        assert Path(instance.root_directory).resolve() == (home.root / "dagster").resolve()


def test_the_nightly_job_ingests_landed_files(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    tiny_world(home.dir("landing") / "batch-1")
    summary = run_nightly(home, embedder=FAST)
    assert summary.success, summary.render()
    assert summary.rows["events"] == 4 and summary.rows["users"] == 3
    assert summary.failed_checks == ()
    assert not (home.dir("landing") / "batch-1").exists()
    assert len(list((home.dir("landing") / ".done").iterdir())) == 1
    # The runs (ingest, nightly, score) are recorded in the home's own Dagster instance,
    # and the event days became partitions of the daily rollup, now all up to date.
    with instance_for(home) as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs] == ["score", "nightly", "ingest"]
        assert runs[1].run_id == summary.run_id
        assert instance.get_dynamic_partitions("event_days") == ["2026-01-05", "2026-01-06"]
    con = home.warehouse()
    assert con.execute("SELECT count(*) FROM dirty_days").fetchall() == [(0,)]
    assert con.execute("SELECT count(*), max(as_of) FROM features_user").fetchall() == [
        (3, date(2026, 1, 7))]
    con.close()
    # A second run with nothing landed is a no-op that still succeeds.
    again = run_nightly(home, embedder=FAST)
    assert again.success and again.rows == summary.rows


def test_a_bad_landing_batch_fails_its_check_but_keeps_good_rows(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    batch = tiny_world(home.dir("landing") / "batch-1")
    (batch / "events.parquet").unlink()
    shutil.copy(REPO / "tests" / "data" / "events_mixed.csv", batch / "events.csv")
    summary = run_nightly(home, embedder=FAST)
    assert summary.success
    assert "raw/events:quarantine_share" in summary.failed_checks
    assert summary.rows["events"] == 2 and summary.quarantined == 2


def test_build_definitions_binds_the_home(tmp_path: Path) -> None:
    built = build_definitions(tmp_path / "x")
    assert built.resources["home"].path == str((tmp_path / "x").resolve())


def test_turning_chat_personalization_off_purges_on_the_next_run(tmp_path: Path) -> None:
    import polars as pl

    home = DataHome.open(tmp_path / "h")
    batch = tiny_world(home.dir("landing") / "batch-1")    # u1 opted in, u3 not
    pl.DataFrame({"chat_id": ["c1", "c2"], "user_id": ["u1", "u1"],
                  "ts": ["2026-01-05", "2026-01-06"],
                  "text": ["how to skateboard", "best ramen recipe"]}).write_parquet(
        batch / "chats.parquet")
    first = run_nightly(home, embedder=FAST)
    assert first.success and first.failed_checks == ()
    con = home.warehouse()
    assert con.execute("SELECT count(*) FROM chat_interests").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM user_embeddings WHERE from_chat").fetchall() == [
        (1,)]
    con.close()

    control = home.control()
    control.execute("UPDATE user_settings SET chat_personalization = 0, updated_at = ? "
                    "WHERE user_id = 'u1'", ["2026-02-01T00:00:00.000000Z"])
    control.close()
    second = run_nightly(home, embedder=FAST)
    assert second.success and second.failed_checks == ()
    con = home.warehouse()
    for table in ("chats", "chat_interests", "chat_topic_weights"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table
    assert con.execute("SELECT count(*) FROM user_embeddings WHERE from_chat").fetchall() == [
        (0,)]
    con.close()
