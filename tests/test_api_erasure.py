"""Erasure and export, through the real server and the real pipeline: DELETE /v1/users/{id}
(and DELETE /v1/me) removes a user from the control store at once and refuses everything
for them from the next request, their own videos and their cameo in others' leave every
feed at once, and the next pipeline run leaves nothing of them in the warehouse, the
snapshot or the feeds. GET /v1/me/export shows what is held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from cli.runner import run_nightly
from pipelines.resources import EmbedderResource
from reelrank.control.credits import add_credits
from reelrank.erase import USER_COLUMNS
from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


@pytest.fixture(scope="module")
def home(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    return copy_home(scored_home, tmp_path_factory.mktemp("api-erasure") / "home")


@pytest.fixture(scope="module")
def server(home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    with Server(home, tmp_path_factory.mktemp("api-erasure-log") / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def service(home: DataHome, server: Server) -> httpx.Client:
    return server.client(token(home, "service", "app"))


def _latest(home: DataHome, name: str) -> pl.DataFrame:
    return pl.read_parquet(home.dir("snapshots") / "latest" / name)


def _guardians(home: DataHome) -> set[object]:
    control = home.control()
    try:
        return {r[0] for r in control.execute("SELECT guardian_id FROM guardians")}
    finally:
        control.close()


def _subject(home: DataHome) -> tuple[str, list[str], list[str]]:
    """A creator whose videos are in many precomputed feeds and who appears in others'
    videos in many more: (them, viewers of their videos, viewers of videos showing them)."""
    feeds = pl.read_parquet(home.dir("feeds") / "latest" / "part-*.parquet")
    items = _latest(home, "items.parquet").select("item_id", "creator_id", "cameo_user_ids")
    shown = feeds.join(items, on="item_id")
    cameos = (shown.explode("cameo_user_ids")
              .filter(pl.col("cameo_user_ids") != pl.col("creator_id"))
              .group_by("cameo_user_ids").agg(pl.col("user_id").unique().alias("in_cameo")))
    made = shown.group_by("creator_id").agg(pl.col("user_id").unique().alias("of_theirs"))
    both = made.join(cameos, left_on="creator_id", right_on="cameo_user_ids").filter(
        ~pl.col("creator_id").is_in(list(_guardians(home))))
    best = both.sort(pl.col("of_theirs").list.len() + pl.col("in_cameo").list.len(),
                     descending=True).row(0, named=True)
    user = best["creator_id"]
    return (user, [v for v in best["of_theirs"] if v != user][:15],
            [v for v in best["in_cameo"] if v != user][:15])


def _theirs(home: DataHome, user: str) -> set[object]:
    """Item ids they made or appear in, in the live snapshot."""
    items = _latest(home, "items.parquet")
    return set(items.filter((pl.col("creator_id") == user)
                            | pl.col("cameo_user_ids").list.contains(user))["item_id"])


def _feed(service: httpx.Client, viewer: str) -> list[object]:
    got = service.get("/v1/feed", params={"user_id": viewer, "limit": 300})
    assert got.status_code == 200, got.text
    return [i["item_id"] for i in got.json()["items"]]


def _event(event_id: str, user: object, item: object) -> dict[str, object]:
    return {"event_id": event_id, "user_id": user, "item_id": item, "event_type": "like",
            "ts": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(), "ip": "8.8.8.8"}


@pytest.fixture(scope="module")
def erased(home: DataHome, server: Server, service: httpx.Client):
    user, viewers, cameo_viewers = _subject(home)
    theirs = _theirs(home, user)
    # Before: their videos and videos showing them are in these feeds.
    assert any(set(_feed(service, v)) & theirs for v in viewers)
    assert any(set(_feed(service, v)) & theirs for v in cameo_viewers)
    own = server.client(token(home, "user", user))
    assert own.put("/v1/me/settings", json={"chat_personalization": True}).status_code == 200
    items = _latest(home, "items.parquet")["item_id"].to_list()
    other = [i for i in items if i not in theirs]
    assert own.post("/v1/events", json={"events": [_event("bye-1", user, other[0])]}
                    ).status_code == 200
    control = home.control()
    add_credits(control, user, 7, now=datetime.now(UTC), reference="pay-erasure")
    control.close()
    gone = service.delete(f"/v1/users/{user}")
    assert gone.status_code == 200, gone.text
    return {"user": user, "viewers": viewers, "cameo_viewers": cameo_viewers,
            "theirs": theirs, "own": own, "answer": gone.json(), "other": other}


def test_erasure_takes_effect_at_once(home: DataHome, service: httpx.Client,
                                     erased: dict) -> None:
    user, theirs = erased["user"], erased["theirs"]
    answer = erased["answer"]
    assert answer["credits_closed"] == 7
    assert answer["removed"]["cameo_grants"] > 0 and answer["removed"]["event_inbox"] == 1
    # Their token went with them; a service acting for them is told they are gone.
    assert erased["own"].get("/v1/me/settings").status_code == 401
    for path in ("/v1/feed", "/v1/me/export", "/v1/me/settings", "/v1/me/blocks"):
        got = service.get(path, params={"user_id": user})
        assert got.status_code == 410, (path, got.text)
        assert "erased" in got.json()["detail"]
    # Their videos and the videos showing them leave every feed, precomputed or not.
    for viewer in {*erased["viewers"], *erased["cameo_viewers"]}:
        assert not set(_feed(service, viewer)) & theirs, viewer
    # Nothing naming them is acknowledged again.
    viewer = erased["viewers"][0]
    assert service.post("/v1/events", json={"events": [
        _event("late-1", user, erased["other"][0])]}).status_code == 422
    refused = service.post("/v1/events", json={"events": [
        _event("late-2", viewer, min(theirs, key=str))]})
    assert refused.status_code == 422 and "was removed" in refused.json()["detail"]
    assert service.post("/v1/users", json={"user_id": user}).status_code == 409
    assert service.delete(f"/v1/users/{user}").status_code == 409
    # ... nor is a row about them written again by someone else.
    for path, body in (("/v1/cameos/grants", {"grantee_id": user}),
                       ("/v1/me/blocks", {"blocked_id": user})):
        again = service.post(path, params={"user_id": viewer}, json=body)
        assert again.status_code == 410 and next(iter(body)) in again.json()["detail"], path
    linked = service.post("/v1/guardian/links", json={"guardian_id": viewer, "child_id": user})
    assert linked.status_code == 410
    # The control store keeps their id (the tombstone) and the ledger's history, nothing else.
    control = home.control()
    try:
        for table, column in (("user_settings", "user_id"), ("cameo_grants", "owner_id"),
                              ("cameo_grants", "grantee_id"), ("user_blocks", "blocked_id"),
                              ("event_inbox", "user_id"), ("api_tokens", "subject_id"),
                              ("guardians", "child_id"), ("served_today", "user_id")):
            (n,) = control.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?",
                                   [user]).fetchone()
            assert n == 0, table
        ledger = control.execute("SELECT delta, reason FROM credit_ledger WHERE user_id = ? "
                                 "ORDER BY entry_id", [user]).fetchall()
        assert ledger == [(7, "top-up"), (-7, "erasure")]
    finally:
        control.close()


def test_the_next_run_leaves_nothing_of_them_in_warehouse_snapshot_or_feeds(
        home: DataHome, server: Server, service: httpx.Client, erased: dict) -> None:
    user, theirs = erased["user"], erased["theirs"]
    summary = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    con = home.warehouse(read_only=True)
    try:
        for table, columns in _user_tables(con).items():
            for column in columns:
                (n,) = con.execute(f"SELECT count(*) FROM {table} WHERE "
                                   f"CAST({column} AS VARCHAR) = ?", [user]).fetchall()[0]
                assert n == 0, (table, column)
        (left,) = con.execute(
            "SELECT count(*) FROM items WHERE list_contains(cameo_user_ids, ?) "
            "OR item_id IN (SELECT unnest(?))", [user, sorted(theirs, key=str)]).fetchall()[0]
        assert left == 0
        (events,) = con.execute("SELECT count(*) FROM events WHERE item_id IN "
                                "(SELECT unnest(?))", [sorted(theirs, key=str)]).fetchall()[0]
        assert events == 0
        (quarantined,) = con.execute("SELECT count(*) FROM quarantine WHERE contains(record, ?)",
                                     [user]).fetchall()[0]
        assert quarantined == 0
    finally:
        con.close()
    snapshot = home.dir("snapshots") / "latest"
    assert user not in pl.read_parquet(snapshot / "users.parquet")["user_id"].to_list()
    items = pl.read_parquet(snapshot / "items.parquet")
    assert not set(items["item_id"]) & theirs
    assert not items["cameo_user_ids"].list.contains(user).any()
    feeds = pl.read_parquet(home.dir("feeds") / "latest" / "part-*.parquet")
    assert user not in set(feeds["user_id"]) and not set(feeds["item_id"]) & theirs
    control = home.control()
    try:
        (applied,) = control.execute("SELECT applied_at FROM erased_users WHERE user_id = ?",
                                     [user]).fetchone()
    finally:
        control.close()
    assert applied is not None


def _user_tables(con) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'").fetchall():
        if column in USER_COLUMNS:
            out.setdefault(table, []).append(column)
    assert {"users", "events", "follows", "friendships", "features_user"} <= set(out)
    return out


def test_export_shows_what_is_held(home: DataHome, server: Server,
                                   service: httpx.Client) -> None:
    users = _latest(home, "users.parquet")["user_id"].to_list()
    guardians = _guardians(home)
    me, other, third = [u for u in users if u not in guardians][10:13]
    client = server.client(token(home, "user", me))
    items = _latest(home, "items.parquet")["item_id"].to_list()
    assert client.put("/v1/me/settings", json={"chat_personalization": True}).status_code == 200
    assert client.post("/v1/me/blocks", json={"blocked_id": other}).status_code == 201
    assert client.post("/v1/cameos/grants", json={"grantee_id": third}).status_code == 201
    assert client.post("/v1/events", json={"events": [_event("mine-1", me, items[0])]}
                       ).status_code == 200
    got = client.get("/v1/me/export")
    assert got.status_code == 200, got.text
    body = got.json()
    held = body["control"]
    assert held["settings"]["chat_personalization"] is True
    assert [b["blocked_id"] for b in held["blocks"]] == [other]
    assert third in [g["grantee_id"] for g in held["grants_given"]]
    assert "mine-1" in [e["event_id"] for e in held["events"]]
    assert held["credits"]["balance"] == 0
    snap = body["snapshot"]
    assert snap["known"] is True and snap["seen_count"] == len(snap["seen_items"])
    assert "user_impressions_7d" in snap["features"]
    assert service.get("/v1/me/export", params={"user_id": me}).json()["user_id"] == me
    # nobody else's export through a user token
    assert client.get("/v1/me/export", params={"user_id": other}).status_code == 403


def test_a_guardian_is_erased_only_once_their_children_are_unlinked(
        home: DataHome, service: httpx.Client, tmp_path: Path) -> None:
    control = home.control()
    try:
        (child, guardian) = control.execute(
            "SELECT child_id, guardian_id FROM guardians ORDER BY child_id LIMIT 1").fetchone()
        children = [r[0] for r in control.execute(
            "SELECT child_id FROM guardians WHERE guardian_id = ?", [guardian])]
    finally:
        control.close()
    refused = service.delete(f"/v1/users/{guardian}")
    assert refused.status_code == 409 and "unlink" in refused.json()["detail"]
    for kid in children:
        assert service.delete(f"/v1/guardian/links/{kid}").status_code == 204
    assert service.delete(f"/v1/users/{guardian}").status_code == 200
    assert service.get("/v1/me/settings", params={"user_id": child}).json()[
        "supervised"] is False
