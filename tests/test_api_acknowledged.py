"""Nothing acknowledged is later dropped: POST /v1/events acknowledges only events the
pipeline will load (known users and items, or users signed up since), an event id is its
user's own all the way into the warehouse, and a (user, id) already accepted or already in
the warehouse is a duplicate when it says the same and a 409 when it does not. Real server,
real pipeline ingest job."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from reelrank.control.inbox import prune_drained
from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, run_ingest, token


@pytest.fixture(scope="module")
def home(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    return copy_home(scored_home, tmp_path_factory.mktemp("api-acked") / "home")


@pytest.fixture(scope="module")
def server(home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    with Server(home, tmp_path_factory.mktemp("api-acked-log") / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def service(home: DataHome, server: Server) -> httpx.Client:
    return server.client(token(home, "service", "app"))


@functools.cache
def _people(root: Path) -> tuple[list[object], list[object]]:
    latest = root / "snapshots" / "latest"
    return (pl.read_parquet(latest / "users.parquet")["user_id"].to_list(),
            pl.read_parquet(latest / "items.parquet")["item_id"].to_list())


def _event(event_id: str, user: object, item: object, **change: object) -> dict[str, object]:
    return {"event_id": event_id, "user_id": user, "item_id": item, "event_type": "like",
            "ts": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(), "watch_ms": 1500,
            "ip": "8.8.8.8", **change}


def _inbox(home: DataHome) -> int:
    control = home.control()
    try:
        return control.execute("SELECT count(*) FROM event_inbox").fetchone()[0]
    finally:
        control.close()


def _warehouse(home: DataHome, sql: str, params: list[object]) -> list[tuple]:
    con = home.warehouse(read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(("field", "value", "words"), [
    ("user_id", "u9999999", "unknown user 'u9999999'"),
    ("item_id", "v9999999", "unknown item 'v9999999'"),
])
def test_events_the_pipeline_would_quarantine_are_refused_not_acknowledged(
        home: DataHome, service: httpx.Client, field: str, value: str, words: str) -> None:
    users, items = _people(home.root)
    batch = [_event(f"unknown-{field}-{n}", users[n], items[n]) for n in range(3)]
    batch[1][field] = value
    before = _inbox(home)
    got = service.post("/v1/events", json={"events": batch})
    assert got.status_code == 422, got.text
    assert words in got.json()["detail"] and "events[1]" in got.json()["detail"]
    assert got.json()["errors"][0]["loc"] == ["body", "events", 1, field]
    assert _inbox(home) == before


def test_an_event_id_is_its_users_own_into_the_warehouse(home: DataHome,
                                                         service: httpx.Client) -> None:
    users, items = _people(home.root)
    first = service.post("/v1/events", json={"events": [
        _event("shared-1", users[0], items[0]), _event("shared-1", users[1], items[1])]})
    assert first.json() == {"received": 2, "new": 2, "duplicates": 0}, first.text
    later = service.post("/v1/events", json={"events": [_event("shared-1", users[2], items[2])]})
    assert later.json() == {"received": 1, "new": 1, "duplicates": 0}, later.text
    run_ingest(home)
    held = _warehouse(home, "SELECT user_id FROM events WHERE event_id = ? ORDER BY 1",
                      ["shared-1"])
    assert held == sorted((u,) for u in users[:3])
    assert _warehouse(home, "SELECT count(*) FROM quarantine WHERE record LIKE ?",
                      ["%shared-1%"]) == [(0,)]


def test_an_id_already_accepted_is_a_duplicate_and_other_content_is_409(
        home: DataHome, service: httpx.Client) -> None:
    users, items = _people(home.root)
    event = _event("again-1", users[3], items[3])
    assert service.post("/v1/events", json={"events": [event]}).json()["new"] == 1
    assert service.post("/v1/events", json={"events": [event]}).json() == {
        "received": 1, "new": 0, "duplicates": 1}
    before = _inbox(home)
    other = service.post("/v1/events", json={"events": [
        _event("again-2", users[3], items[3]), {**event, "event_type": "skip"}]})
    assert other.status_code == 409, other.text
    assert "events[1]" in other.json()["detail"] and "'again-1'" in other.json()["detail"]
    assert _inbox(home) == before  # nothing of the batch, not even again-2


def test_an_id_the_warehouse_holds_is_a_duplicate_and_other_content_is_409(
        home: DataHome, service: httpx.Client) -> None:
    users, items = _people(home.root)
    # An event of the synthetic world, loaded by the nightly run, never seen by the API:
    # reusing its id for a new event must not be acknowledged (ingest would keep the old one).
    (user, event_id, item) = _warehouse(
        home, "SELECT user_id, event_id, item_id FROM events WHERE event_id LIKE 'e%' "
        "ORDER BY event_id LIMIT 1", [])[0]
    reused = service.post("/v1/events", json={"events": [_event(event_id, user, item)]})
    assert reused.status_code == 409, reused.text
    assert "already in the warehouse" in reused.json()["detail"]
    # An event the API accepted, ingested, and then forgotten by the inbox (its retry window
    # is over): the warehouse's exported keys still answer for it.
    event = _event("landed-1", users[4], items[4])
    assert service.post("/v1/events", json={"events": [event]}).json()["new"] == 1
    run_ingest(home)
    control = home.control()
    prune_drained(control, datetime.now(UTC) + timedelta(days=1))
    control.close()
    assert _inbox(home) == 0
    again = service.post("/v1/events", json={"events": [event]})
    assert again.json() == {"received": 1, "new": 0, "duplicates": 1}, again.text
    changed = service.post("/v1/events", json={"events": [{**event, "watch_ms": 99}]})
    assert changed.status_code == 409, changed.text
    assert _inbox(home) == 0


def test_a_user_signed_up_through_the_api_posts_at_once_and_lands_in_the_warehouse(
        home: DataHome, server: Server, service: httpx.Client) -> None:
    _users, items = _people(home.root)
    signup = {"user_id": "u-new-0001", "country": "DE", "birth_year": 2001}
    made = service.post("/v1/users", json=signup)
    assert made.status_code == 201, made.text
    assert made.json()["landed"] is False and made.json()["country"] == "DE"
    assert service.post("/v1/users", json=signup).status_code == 200  # a retry
    assert service.post("/v1/users", json={**signup, "country": "FR"}).status_code == 409
    assert service.post("/v1/users", json={"user_id": _users[0]}).status_code == 409
    user = server.client(token(home, "user", "u-new-0001"))
    assert user.put("/v1/me/settings", json={"chat_personalization": True}).status_code == 200
    posted = user.post("/v1/events", json={"events": [
        _event("n-1", "u-new-0001", items[0]), _event("n-2", "u-new-0001", items[1])]})
    assert posted.json() == {"received": 2, "new": 2, "duplicates": 0}, posted.text
    run_ingest(home)
    assert _warehouse(home, "SELECT country, birth_year FROM users WHERE user_id = ?",
                      ["u-new-0001"]) == [("DE", 2001)]
    assert _warehouse(home, "SELECT event_id FROM events WHERE user_id = ? ORDER BY 1",
                      ["u-new-0001"]) == [("n-1",), ("n-2",)]
    assert _warehouse(home, "SELECT count(*) FROM quarantine", []) == [(0,)]
    assert service.post("/v1/users", json=signup).json()["landed"] is True
