"""POST /v1/events: validated like ingestion, refused whole with the index and field of the
first bad event, idempotent on event_id, size-limited, durable before the ack (a SIGKILL
loses nothing acknowledged), and drained into a landing batch that ingestion loads."""

from __future__ import annotations

import functools
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from reelrank.home import DataHome
from reelrank.inbox import drain_inbox
from reelrank.ingest import ingest_directory
from tests.test_api_support import Server, copy_home, token


@pytest.fixture(scope="module")
def home(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    return copy_home(scored_home, tmp_path_factory.mktemp("api-events") / "home")


@pytest.fixture(scope="module")
def service(home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    with Server(home, tmp_path_factory.mktemp("api-events-log") / "server.log") as server:
        yield server.client(token(home, "service", "app"))


@functools.cache
def _people(root: Path) -> tuple[list[object], list[object]]:
    latest = root / "snapshots" / "latest"
    return (pl.read_parquet(latest / "users.parquet")["user_id"].to_list(),
            pl.read_parquet(latest / "items.parquet")["item_id"].to_list())


def _events(home: DataHome, prefix: str, n: int) -> list[dict[str, object]]:
    users, items = _people(home.root)
    at = datetime.now(UTC) - timedelta(hours=1)
    return [{"event_id": f"{prefix}-{k}", "user_id": users[k % len(users)],
             "item_id": items[k % len(items)], "event_type": ("impression", "like")[k % 2],
             "ts": (at + timedelta(seconds=k)).isoformat(), "watch_ms": 1000 + k,
             "ip": "8.8.8.8"} for k in range(n)]


def _inbox(home: DataHome) -> int:
    control = home.control()
    try:
        return control.execute("SELECT count(*) FROM event_inbox").fetchone()[0]
    finally:
        control.close()


@pytest.mark.parametrize(("change", "loc", "words"), [
    ({"event_type": "teleport"}, ["body", "events", 2, "event_type"], "impression"),
    ({"watch_ms": 10**12}, ["body", "events", 2, "watch_ms"], "less than or equal"),
    ({"watch_ms": -1}, ["body", "events", 2, "watch_ms"], "greater than or equal"),
    ({"ip": "300.1.1.1"}, ["body", "events", 2, "ip"], "not an IP address"),
    ({"ts": "2999-01-01T00:00:00Z"}, ["body", "events", 2, "ts"], "in the future"),
    ({"ts": "yesterday"}, ["body", "events", 2, "ts"], "datetime"),
    ({"user_id": True}, ["body", "events", 2, "user_id"], ""),
    ({"colour": "red"}, ["body", "events", 2, "colour"], "Extra inputs are not permitted"),
    ({"event_id": None}, ["body", "events", 2, "event_id"], ""),
])
def test_an_invalid_event_refuses_the_whole_batch_naming_index_and_field(
        home: DataHome, service: httpx.Client, change: dict, loc: list, words: str) -> None:
    batch = _events(home, f"bad-{next(iter(change))}", 4)
    batch[2] = {**batch[2], **change}
    before = _inbox(home)
    got = service.post("/v1/events", json={"events": batch})
    assert got.status_code == 422, got.text
    body = got.json()
    assert any(e["loc"][:len(loc)] == loc for e in body["errors"]), body
    assert words in body["detail"] and "events" in body["detail"]
    assert _inbox(home) == before


def test_events_are_idempotent_on_their_id(home: DataHome, service: httpx.Client) -> None:
    batch = _events(home, "idem", 5)
    assert service.post("/v1/events", json={"events": batch}).json() == {
        "received": 5, "new": 5, "duplicates": 0}
    again = service.post("/v1/events", json={"events": batch[3:] + _events(home, "idem2", 2)})
    assert again.json() == {"received": 4, "new": 2, "duplicates": 2}
    repeat = service.post("/v1/events", json={"events": [batch[0], batch[0]]})
    assert repeat.json() == {"received": 2, "new": 0, "duplicates": 2}
    clash = service.post("/v1/events", json={"events": [
        *_events(home, "clash", 1), {**_events(home, "clash", 1)[0], "event_type": "skip"}]})
    assert clash.status_code == 422 and "events[1].event_id" in clash.json()["detail"]


def test_oversized_bodies_and_batches_are_refused(home: DataHome, service: httpx.Client
                                                  ) -> None:
    before = _inbox(home)
    cap = service.post("/v1/events", json={"events": _events(home, "cap", 1001)})
    assert cap.status_code == 422 and "at most 1000" in cap.json()["detail"]
    assert cap.json()["errors"][0]["loc"] == ["body", "events"]
    big = b'{"events": [' + b" " * 2_000_000 + b"]}"
    declared = service.post("/v1/events", content=big,
                            headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "1048576-byte limit" in declared.json()["detail"]
    streamed = service.post("/v1/events", content=iter([big[:600_000], big[600_000:]]),
                            headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    empty = service.post("/v1/events", json={"events": []})
    assert empty.status_code == 422 and "events" in empty.json()["detail"]
    assert _inbox(home) == before


def test_acknowledged_events_survive_a_sigkill_and_drain_into_ingestion(
        home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> None:
    server = Server(home, tmp_path_factory.mktemp("api-kill") / "server.log").wait_ready()
    bearer = token(home, "service", "app")
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def post(worker: int) -> None:
        with server.client(bearer) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                batch = _events(home, f"kill-{worker}-{n}", 25)
                try:
                    got = client.post("/v1/events", json={"events": batch})
                except httpx.TransportError:
                    return  # the server died mid-request: not acknowledged
                if got.status_code == 200:
                    with lock:
                        acked.extend(e["event_id"] for e in batch)

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acked) >= 2_000:
                break
        threading.Event().wait(0.05)
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=60)

    control = sqlite3.connect(home.control_path)
    stored = {r[0] for r in control.execute("SELECT event_id FROM event_inbox")}
    control.close()
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"

    batch = drain_inbox(home)
    assert batch is not None and batch.name.startswith("inbox-")
    assert not list(home.dir("landing").glob(".inbox-*"))
    lines = (batch / "events.jsonl").read_text().splitlines()
    assert len(lines) == len(stored)
    assert drain_inbox(home) is None
    control = home.control()
    undrained, with_ip = control.execute(
        "SELECT count(*) FILTER (WHERE drained_at IS NULL), "
        "count(*) FILTER (WHERE json_extract(payload, '$.ip') IS NOT NULL) FROM event_inbox"
    ).fetchone()
    assert (undrained, with_ip) == (0, 0)  # the raw IP is not kept once drained

    report = ingest_directory(home, batch).table("events")
    assert report.loaded == len(stored) and report.quarantined == 0
    # A crash between writing the batch and marking it drained: drained again, harmless.
    control.execute("UPDATE event_inbox SET drained_at = NULL")
    control.close()
    again = drain_inbox(home)
    assert again == batch
    report = ingest_directory(home, again).table("events")
    assert report.loaded == 0 and report.unchanged == len(stored)
