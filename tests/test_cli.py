"""The command line, as a user runs it: the installed `reelrank` script, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

REELRANK = str(Path(sys.executable).parent / "reelrank")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REELRANK, *args], check=False, capture_output=True, text=True,
                          timeout=900,
                          env={**os.environ, **(env or {})})


def test_simulate_is_deterministic_from_the_command_line(tmp_path: Path) -> None:
    for name in ("a", "b"):
        done = _run("simulate", "--out", str(tmp_path / name), "--users", "150", "--days", "2",
                    "--seed", "3")
        assert done.returncode == 0, done.stderr
    for table in ("users", "items", "cameo_grants", "guardians"):
        a = pl.read_parquet(tmp_path / "a" / f"{table}.parquet")
        b = pl.read_parquet(tmp_path / "b" / f"{table}.parquet")
        assert a.equals(b), table
    assert pl.read_parquet(tmp_path / "a" / "items.parquet").columns[:5] == [
        "item_id", "creator_id", "created_at", "text", "cameo_user_ids"]


def test_ingest_reports_json_and_bad_records_are_listed(tmp_path: Path) -> None:
    world = tmp_path / "w"
    assert _run("simulate", "--out", str(world), "--users", "120", "--days", "2",
                "--seed", "1").returncode == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "events.csv").write_text(
        "event_id,user_id,item_id,event_type,ts\n"
        "x1,u0000001,v0000001,impression,not-a-time\n")
    home = tmp_path / "home"
    done = _run("ingest", str(world), "--home", str(home), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)          # stdout is JSON and nothing else
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["events"]["loaded"] > 0 and tables["events"]["quarantined"] == 0
    again = json.loads(_run("ingest", str(world), "--home", str(home), "--json").stdout)
    assert all(t["loaded"] == 0 for t in again["tables"])
    assert _run("ingest", str(bad), "--home", str(home)).returncode == 0
    listed = json.loads(_run("quarantine", "--home", str(home), "--json").stdout)
    assert listed["total"] == 1
    assert listed["rows"][0]["reason"] == "field 'ts': not-a-time is not a timestamp"


def test_errors_are_one_clear_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    done = _run("ingest", str(tmp_path / "missing"), "--home", str(tmp_path / "h"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"reelrank ingest: error: {tmp_path / 'missing'} is not a directory"


@pytest.mark.slow
def test_run_on_an_empty_home_builds_a_world_and_every_feature(tmp_path: Path) -> None:
    """The `make run` path end to end, with the real sentence-transformers model."""
    home = tmp_path / "home"
    done = _run("run", "--users", "300", "--days", "4", env={"REELRANK_HOME": str(home)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nightly run" in done.stdout and "succeeded" in done.stdout
    assert str(home.resolve()) in done.stdout
    assert "failed checks" not in done.stdout
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"features_user", "features_item", "features_user_creator", "item_embeddings",
            "user_embeddings", "chat_interests"} <= tables
    (dim,) = con.execute("SELECT len(embedding) FROM item_embeddings LIMIT 1").fetchall()[0]
    assert dim == 384                                    # the real all-MiniLM-L6-v2
    con.close()
