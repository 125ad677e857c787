"""Events are identified by (user, event id): two users' "e1" both load, re-ingesting them
changes nothing, an id reused by its user for other content is quarantined (not dropped
without a word), and nothing about an erased user is loaded again, nor quarantined."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from reelrank.control.erasure import erase
from reelrank.home import DataHome
from reelrank.ingest import ingest_directory
from tests.conftest import NOW, tiny_world

HEADER = "event_id,user_id,item_id,event_type,ts,watch_ms,ip"


def _batch(root: Path, name: str, lines: list[str]) -> Path:
    batch = root / name
    batch.mkdir()
    (batch / "events.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return batch


def _table(home: DataHome, sql: str) -> pl.DataFrame:
    con = home.warehouse(read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def test_two_users_same_event_id_both_load_and_reingest_is_a_no_op(
        home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    lines = ["s1,u1,v1,like,2026-01-07T00:00:00Z,,8.8.8.8",
             "s1,u2,v1,skip,2026-01-07T00:00:01Z,10,8.8.4.4"]
    report = ingest_directory(home, _batch(tmp_path, "b", lines), now=NOW).table("events")
    assert (report.loaded, report.quarantined) == (2, 0)
    held = _table(home, "SELECT user_id, event_type FROM events WHERE event_id = 's1' "
                        "ORDER BY user_id")
    assert held.rows() == [("u1", "like"), ("u2", "skip")]
    again = ingest_directory(home, _batch(tmp_path, "b2", lines), now=NOW).table("events")
    assert (again.loaded, again.unchanged, again.quarantined) == (0, 2, 0)


def test_a_reused_id_with_other_content_is_quarantined_with_its_reason(
        home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    # tiny_world's e1 is u2's impression of v1 on Jan 5
    report = ingest_directory(home, _batch(tmp_path, "b", [
        "e1,u2,v2,like,2026-01-08T00:00:00Z,,8.8.8.8"]), now=NOW).table("events")
    assert (report.loaded, report.quarantined) == (0, 1)
    (reason,) = _table(home, "SELECT reason FROM quarantine").row(0)
    assert reason.startswith("key (event_id) for the same user_id already loaded with "
                             "different content")
    assert _table(home, "SELECT event_type FROM events WHERE event_id = 'e1' "
                        "AND user_id = 'u2'").item() == "impression"


def test_nothing_about_an_erased_user_is_loaded_or_quarantined(home: DataHome,
                                                               tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    control = home.control()
    erase(control, "u3", now=NOW, hide_until=NOW + timedelta(days=1))
    control.close()
    report = ingest_directory(home, _batch(tmp_path, "b", [
        "n1,u3,v1,like,2026-01-08T00:00:00Z,,8.8.8.8",     # the erased user's own
        "n2,u3,v9,like,2026-01-08T00:00:00Z,,8.8.8.8",     # ... even an invalid one
        "n3,u1,v1,like,2026-01-08T00:00:00Z,,8.8.8.8"]), now=NOW).table("events")
    assert (report.loaded, report.refused, report.quarantined) == (1, 2, 0)
    assert _table(home, "SELECT count(*) FROM quarantine").item() == 0
