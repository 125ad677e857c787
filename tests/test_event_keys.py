"""The event keys the ingest exports for the API: one per (user, event id) the warehouse
holds, with a digest of its content that a posted payload reproduces exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reelrank.event_keys import KnownEventsFile, event_key, export_event_keys, payload_digest
from reelrank.ingest import ingest_directory
from tests.conftest import NOW, tiny_world


def test_exported_keys_answer_for_what_the_warehouse_holds(home, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    con = home.warehouse()
    try:
        assert export_event_keys(con, home.event_keys_path, limit=100) == 4
    finally:
        con.close()
    known = KnownEventsFile(home.event_keys_path, every_s=0).current(0.0)
    # tiny_world's e2: u2 likes v1 on Jan 5 at 13:00, no watch time, from 8.8.8.8
    posted = {"event_id": "e2", "user_id": "u2", "item_id": "v1", "event_type": "like",
              "ts": "2026-01-05T13:00:00.000000+00:00", "ip": "1.1.1.1"}
    held, digests = known.lookup(np.array(
        [event_key("u2", "e2"), event_key("u1", "e2")], dtype="int64"))
    assert held.tolist() == [True, False]
    assert int(digests[0]) == payload_digest(posted)  # the IP is not content
    assert int(digests[0]) != payload_digest({**posted, "event_type": "skip"})


def test_the_newest_are_kept_under_the_bound(home, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    con = home.warehouse()
    try:
        assert export_event_keys(con, home.event_keys_path, limit=2) == 2
    finally:
        con.close()
    known = KnownEventsFile(home.event_keys_path, every_s=0).current(0.0)
    # e3 and e4 are Jan 6, e1 and e2 Jan 5
    assert sorted(known.keys.tolist()) == sorted([event_key("u3", "e3"), event_key("u1", "e4")])
