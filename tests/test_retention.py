"""Retention: an ingested batch keeps no raw IP and no chat text, in any format; ingested
batches and quarantined records are deleted once older than their settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from reelrank.ingest import ingest_directory
from reelrank.retention import prune_done, prune_quarantine, retire_batch, scrub_retired
from reelrank.settings import Settings
from tests.conftest import NOW, tiny_world

IPS = ("8.8.8.8", "192.168.1.7", "2001:4860:4860::8888", "203.0.113.9", "2001:db8::1")
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_a_retired_batch_keeps_no_ip_and_no_chat_text(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    batch = tiny_world(landing / "b1")  # events.parquet with IPs
    (batch / "events").mkdir()
    (batch / "events" / "late.csv").write_text(
        "event_id,user_id,item_id,event_type,ts,watch_ms,ip\n"
        "c1,u1,v1,like,2026-01-07T00:00:00Z,,203.0.113.9\n"
        "c2,u1,v1,like,2026-01-07T00:00:00Z,203.0.113.9,extra,field\n")  # misaligned
    (batch / "events" / "api.jsonl").write_text(json.dumps(
        {"event_id": "j1", "user_id": "u1", "item_id": "v1", "event_type": "like",
         "ts": "2026-01-07T00:00:00Z", "ip": "2001:db8::1"}) + "\nnot json 8.8.8.8\n")
    pl.DataFrame({"chat_id": ["c1", "c2"], "user_id": ["u1", "u3"],
                  "ts": [NOW, NOW], "text": ["my secret recipe", "never opted in"]}
                 ).write_parquet(batch / "chats.parquet")
    (batch / "chats.csv").write_text('chat_id,user_id,ts,text\nc3,u3,2026-01-07,"csv, secret"\n'
                                     'c4,u3,2026-01-07,ragged,"oops"\n')
    done = retire_batch(landing, batch, now=T0)
    assert done.parent.name == ".done" and done.name == "20260301T120000-b1"
    assert not batch.exists()
    data = _bytes(done)
    for secret in (*IPS, "my secret recipe", "never opted in", "csv, secret", "oops"):
        assert secret.encode() not in data, secret
    # what is left still reads: ids, times and counts for audit
    events = pl.read_parquet(done / "events.parquet")
    assert events["event_id"].to_list() == ["e1", "e2", "e3", "e4"]
    assert events["ip"].null_count() == 4
    assert pl.read_parquet(done / "chats.parquet")["user_id"].to_list() == ["u1", "u3"]


def test_retired_batches_and_quarantine_are_pruned_by_age(home, tmp_path: Path) -> None:
    landing = home.dir("landing")
    for n, when in enumerate((T0 - timedelta(days=31), T0 - timedelta(days=29))):
        retire_batch(landing, tiny_world(landing / f"b{n}"), now=when)
    assert prune_done(landing, now=T0, keep_days=30) == ["20260129T120000-b0"]
    assert [p.name for p in (landing / ".done").iterdir()] == ["20260131T120000-b1"]
    batch = tmp_path / "bad"
    batch.mkdir()
    (batch / "users.csv").write_text("user_id,created_at\nx1,not-a-time\n")
    ingest_directory(home, batch, now=NOW)
    con = home.warehouse()
    try:
        # quarantined at NOW, the time the ingest ran at
        assert prune_quarantine(con, now=NOW + timedelta(days=29), keep_days=30) == 0
        assert prune_quarantine(con, now=NOW + timedelta(days=31), keep_days=30) == 1
    finally:
        con.close()


@pytest.mark.parametrize("name", ["landing_done_keep_days", "quarantine_keep_days",
                                  "inbox_keep_days", "api_event_max_age_days",
                                  "erasure_hide_days"])
def test_retention_settings_are_bounded(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{name: -1})
    with pytest.raises(ValidationError):
        Settings(**{name: 100_000})


def test_a_batch_retired_unscrubbed_is_scrubbed_by_the_next_upkeep(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    old = tiny_world(landing / ".done" / "20260101T000000-before")  # as an older reelrank left it
    assert "8.8.8.8" in pl.read_parquet(old / "events.parquet")["ip"].to_list()
    assert scrub_retired(landing) == ["20260101T000000-before"]
    assert pl.read_parquet(old / "events.parquet")["ip"].null_count() == 4
    assert scrub_retired(landing) == []
