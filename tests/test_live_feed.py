"""The live feed over real HTTP: never the same page twice, endless scroll, cursors that are
signed, tied to their user, and valid across a snapshot hot swap."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ranking.publish import publish_snapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, clone_snapshot, copy_home, token


@pytest.fixture(scope="module")
def server(live_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("live-api")
    home = copy_home(live_home, root / "home")
    with Server(home, root / "server.log") as running:
        yield running


def _users(home: DataHome) -> list[object]:
    """Adults with a precomputed page, lightest history first (the most left to scroll)."""
    seen = pl.read_parquet(home.dir("snapshots") / "latest" / "seen.parquet")
    control = home.control()
    kids = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    control.close()
    scored = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")["user_id"].unique()
    counts = seen.group_by("user_id").len()
    ranked = counts.filter(pl.col("user_id").is_in(scored.implode())).sort("len", "user_id")
    return [u for u in ranked["user_id"] if u not in kids]


def _ids(page: dict) -> list[object]:
    return [i["item_id"] for i in page["items"]]


def test_twenty_requests_without_a_cursor_share_no_item(server: Server) -> None:
    user = _users(server.home)[0]
    client = server.client(token(server.home, "user", user))
    seen: list[object] = []
    for n in range(20):
        page = client.get("/v1/feed", params={"limit": 10}).json()
        assert len(page["items"]) == 10, (n, page)
        assert page["request_id"] and [i["position"] for i in page["items"]] == list(
            range(1, 11))
        seen += _ids(page)
    assert len(seen) == len(set(seen)) == 200


def test_a_thousand_items_in_a_day_without_a_repeat(server: Server) -> None:
    user = _users(server.home)[1]
    client = server.client(token(server.home, "user", user))
    shown: list[object] = []
    cursor = None
    positions: list[int] = []
    while len(shown) < 1000:
        page = client.get("/v1/feed", params={"limit": 50, **({"cursor": cursor} if cursor
                                                              else {})}).json()
        assert page["items"], f"the feed ended after {len(shown)} items"
        shown += _ids(page)
        positions += [i["position"] for i in page["items"]]
        cursor = page["cursor"]
        assert cursor, f"no cursor after {len(shown)} items"
    assert len(shown) == len(set(shown))
    assert positions == list(range(1, len(positions) + 1))


def test_a_cursor_is_signed_and_belongs_to_its_user(server: Server) -> None:
    a, b = _users(server.home)[2:4]
    first = server.client(token(server.home, "user", a)).get("/v1/feed",
                                                             params={"limit": 5}).json()
    cursor = first["cursor"]
    body, sig = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    client_a = server.client(token(server.home, "user", a))
    assert client_a.get("/v1/feed", params={"cursor": forged}).status_code == 422
    stolen = server.client(token(server.home, "user", b)).get("/v1/feed",
                                                              params={"cursor": cursor})
    assert stolen.status_code == 422 and "cursor" in stolen.json()["detail"]
    assert client_a.get("/v1/feed", params={"cursor": cursor}).status_code == 200


def test_a_cursor_stays_valid_across_a_snapshot_hot_swap(server: Server,
                                                         tmp_path: Path) -> None:
    home = server.home
    user = _users(home)[4]
    client = server.client(token(home, "user", user))
    first = client.get("/v1/feed", params={"limit": 20}).json()
    swapped = clone_snapshot(home, "2099-02-01-swap")
    publish_snapshot(home.dir("snapshots"), swapped)
    deadline = time.monotonic() + 60
    while client.get("/readyz").json()["snapshot"] != swapped.name:
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.2)
    second = client.get("/v1/feed", params={"limit": 20, "cursor": first["cursor"]})
    assert second.status_code == 200 and second.headers["X-Reelrank-Snapshot"] == swapped.name
    page = second.json()
    assert not set(_ids(first)) & set(_ids(page))
    assert [i["position"] for i in page["items"]] == list(range(21, 41))


def test_served_history_is_written_to_the_control_store(server: Server) -> None:
    home = server.home
    user = _users(home)[5]
    page = server.client(token(home, "user", user)).get("/v1/feed", params={"limit": 7}).json()
    deadline = time.monotonic() + 10
    while True:
        control = home.control()
        rows = control.execute("SELECT item_id, request_id, position FROM served_history "
                               "WHERE user_id = ? ORDER BY position", [user]).fetchall()
        control.close()
        if len(rows) == 7 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [r[0] for r in rows] == _ids(page)
    assert {r[1] for r in rows} == {page["request_id"]} and [r[2] for r in rows] == list(
        range(1, 8))


def test_a_non_personalized_feed_does_not_repeat_itself(server: Server) -> None:
    """A child whose guardian switched personalization off gets the country's ranking less
    what it was served: a scroll's next page, and every request without a cursor, shows
    nothing served before, while everyone else's events (the live item statistics) reorder
    the ranking in between."""
    home = server.home
    control = home.control()
    pairs = control.execute("SELECT child_id, guardian_id FROM guardians ORDER BY child_id"
                            ).fetchall()
    control.close()
    child, guardian = pairs[0]
    rules = server.client(token(home, "guardian", guardian)).patch(
        f"/v1/guardian/children/{child}", json={"personalization": False, "scroll_limit": None})
    assert rules.status_code == 200 and rules.json()["personalization"] is False
    client = server.client(token(home, "user", child))
    first = client.get("/v1/feed", params={"limit": 10}).json()
    assert len(first["items"]) == 10
    # Others watch and like what sits far down the list, many times over: by the live
    # statistics those items now outrank the first page's.
    ahead = client.get("/v1/feed", params={"limit": 60, "cursor": first["cursor"]}).json()
    deep = _ids(ahead)[30:60]
    adults = _users(home)[10:40]
    now = datetime.now(UTC).isoformat()
    events = [{"event_id": uuid.uuid4().hex, "user_id": user, "item_id": item,
               "event_type": kind, "ts": now}
              for item in deep for user in adults for kind in ("impression", "like")]
    service = server.client(token(home, "service", "app"))
    for start in range(0, len(events), 500):
        answer = service.post("/v1/events", json={"events": events[start:start + 500]})
        assert answer.status_code == 200, answer.text
    seen = set(_ids(first)) | set(_ids(ahead))
    for _ in range(3):                     # the app opened again: no cursor
        again = client.get("/v1/feed", params={"limit": 10}).json()
        assert len(again["items"]) == 10
        assert not seen & set(_ids(again))
        seen |= set(_ids(again))
        nxt = client.get("/v1/feed", params={"limit": 10, "cursor": again["cursor"]}).json()
        assert not seen & set(_ids(nxt))
        seen |= set(_ids(nxt))
