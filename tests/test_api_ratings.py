"""Content ratings through real servers and a real worker (hard rule 2): a supervised account
sees only items rated safe, a same-day generation included (unrated until something rates
it), while adults see sensitive ones; a moderator's label counts on every server's next
request, precomputed pages included."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import polars as pl
import pytest

from ranking.publish import publish_snapshot
from reelrank.home import DataHome
from tests.test_api_support import REELRANK, Server, clone_snapshot, copy_home, token


@dataclass(frozen=True)
class World:
    home: DataHome
    server: Server
    children: dict[object, bool]        # child -> personalization on
    friends: dict[object, set[object]]

    def client(self, scope: str = "service", subject: object = "moderation"):
        return self.server.client(token(self.home, scope, subject))

    def page(self, user: object, limit: int = 100, server: Server | None = None
             ) -> tuple[list[object], str]:
        got = (server or self.server).client(token(self.home, "service", "app")).get(
            "/v1/feed", params={"user_id": user, "limit": limit})
        assert got.status_code == 200, got.text
        return [i["item_id"] for i in got.json()["items"]], got.headers["X-Reelrank-Feed"]


def _world(home: DataHome, server: Server) -> World:
    control = home.control()
    children = dict(control.execute("SELECT child_id, personalization FROM guardians"))
    control.close()
    graph = pl.read_parquet(home.dir("snapshots") / "latest" / "graph.parquet")
    friends: dict[object, set[object]] = {}
    for user, author in graph.filter(~pl.col("follows")).select("user_id", "author").iter_rows():
        friends.setdefault(user, set()).add(author)
    world = World(home, server, {c: bool(p) for c, p in children.items()}, friends)
    service = world.client()
    for child in children:  # the scroll limit is not what these tests are about
        assert service.patch(f"/v1/guardian/children/{child}",
                             json={"scroll_limit": None}).status_code == 200
    return world


def _labels(home: DataHome) -> dict[object, str]:
    items = pl.read_parquet(home.dir("snapshots") / "latest" / "items.parquet")
    return dict(zip(items["item_id"], items["safety_label"], strict=True))


@pytest.fixture(scope="module")
def world(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api-ratings")
    home = copy_home(scored_home, root / "home")
    with Server(home, root / "server.log") as server:
        yield _world(home, server)


def _worker(home: DataHome, classifier: str) -> None:
    done = subprocess.run([REELRANK, "worker", "--home", str(home.root), "--once",
                           "--embedder", "hashing"], check=False, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "REELRANK_GENERATION_CLASSIFIER": classifier})
    assert done.returncode == 0, done.stderr


def test_sensitive_items_reach_adults_but_never_a_supervised_account(
        scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Serve a snapshot in which videos the children were being shown are sensitive."""
    root = tmp_path_factory.mktemp("api-sensitive")
    home = copy_home(scored_home, root / "home")
    feeds = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")
    control = home.control()
    kids = [c for (c,) in control.execute("SELECT child_id FROM guardians ORDER BY 1")]
    control.close()
    theirs = feeds.filter(pl.col("user_id").is_in(kids) & (pl.col("position") <= 20))
    adults = feeds.filter(~pl.col("user_id").is_in(kids) & (pl.col("position") <= 20))
    shared = theirs.join(adults, on="item_id", how="semi")["item_id"].unique().to_list()
    assert len(shared) >= 10
    relabel = set(shared)

    def sensitive(file: str, frame: pl.DataFrame) -> pl.DataFrame | None:
        if file != "items.parquet":
            return None
        return frame.with_columns(pl.when(pl.col("item_id").is_in(list(relabel)))
                                  .then(pl.lit("sensitive")).otherwise(pl.col("safety_label"))
                                  .alias("safety_label"))

    publish_snapshot(home.dir("snapshots"), clone_snapshot(home, "2026-01-10-rated", sensitive))
    labels = _labels(home)
    with Server(home, root / "server.log") as server:
        world = _world(home, server)
        shown_to_kids = [i for kid in world.children for i in world.page(kid)[0]]
        assert len(shown_to_kids) >= 20
        assert {labels[i] for i in shown_to_kids} == {"safe"}
        users = adults["user_id"].unique().sort().to_list()[:15]
        shown_to_adults = {i for user in users for i in world.page(user)[0]}
        assert shown_to_adults & relabel
        removed = server.client().get("/metrics").text
    assert 'reelrank_feed_removed_total{filter="not_rated_safe"}' in removed


def test_a_same_day_generation_reaches_a_child_only_once_rated_safe(world: World) -> None:
    supervised = set(world.children)
    maker, child, adult = next(
        (m, c, a) for m, mine in sorted(world.friends.items(), key=lambda kv: str(kv[0]))
        if m not in supervised
        for c in sorted(mine, key=str) if world.children.get(c)
        for a in sorted(mine, key=str) if a not in supervised)
    with world.server.client(token(world.home, "user", maker)) as client:
        unrated = client.post("/v1/generations", json={"prompt": "a paper boat race"}).json()
    _worker(world.home, "none")  # nothing rates it: unrated until a moderator does
    with world.server.client(token(world.home, "user", maker)) as client:
        sensitive = client.post("/v1/generations",
                                json={"prompt": "friends drinking beer at a party"}).json()
    _worker(world.home, "lexicon")
    control = world.home.control()
    made = {r: i for r, i in control.execute(
        "SELECT request_id, item_id FROM generation_requests WHERE request_id IN (?, ?)",
        [unrated["request_id"], sensitive["request_id"]]).fetchall()}
    control.close()
    first, second = made[unrated["request_id"]], made[sensitive["request_id"]]
    assert first and second
    moderator = world.client()
    assert moderator.get(f"/v1/admin/items/{first}/label").json()["label"] == "unrated"
    assert moderator.get(f"/v1/admin/items/{second}/label").json() == {
        "item_id": second, "label": "sensitive", "moderated": False, "set_by": None,
        "reason": None, "set_at": None}

    assert {first, second} <= set(world.page(adult)[0])
    assert not {first, second} & set(world.page(child)[0])
    put = moderator.put(f"/v1/admin/items/{first}/label", json={"label": "safe"})
    assert put.status_code == 200 and put.json()["moderated"] is True
    after = world.page(child)[0]
    assert first in after and second not in after


def test_a_moderators_unsafe_label_leaves_every_servers_next_page(
        world: World, tmp_path_factory: pytest.TempPathFactory) -> None:
    feeds = pl.read_parquet(world.home.dir("feeds") / "latest" / "*.parquet")
    labels = _labels(world.home)
    top = feeds.filter(~pl.col("user_id").is_in(list(world.children))
                       & (pl.col("position") <= 10))
    safe = [i for i, label in labels.items() if label == "safe"]
    popular = (top.filter(pl.col("item_id").is_in(safe))
               .group_by("item_id").agg(pl.col("user_id").sort())
               .sort(pl.col("user_id").list.len(), "item_id", descending=[True, False]))
    item, users = popular.row(0)
    # No page repeats an item within the day, so the users who prove the item is served
    # before the label (one per server) are not the ones who prove it is gone after.
    shown_before, asked_after = users[:2], users[2:6]
    assert len(asked_after) >= 2
    log = tmp_path_factory.mktemp("api-second") / "server.log"
    with Server(world.home, log) as second:
        ids, how = world.page(shown_before[0], 20)
        assert item in ids, how
        assert item in world.page(shown_before[1], 20, second)[0]

        user, moderator = world.client("user", users[0]), world.client()
        assert user.put(f"/v1/admin/items/{item}/label", json={"label": "unsafe"}
                        ).status_code == 403
        assert moderator.put("/v1/admin/items/no-such-item/label",
                             json={"label": "unsafe"}).status_code == 404
        assert moderator.put(f"/v1/admin/items/{item}/label",
                             json={"label": "unrated"}).status_code == 422
        put = moderator.put(f"/v1/admin/items/{item}/label",
                            json={"label": "unsafe", "reason": "reported, reviewed"})
        assert put.status_code == 200
        assert put.json() | {"set_at": None} == {
            "item_id": item, "label": "unsafe", "moderated": True, "set_by": "test",
            "reason": "reported, reviewed", "set_at": None}
        for n, u in enumerate(asked_after):
            server = (world.server, second)[n % 2]
            assert item not in world.page(u, 20, server)[0], (server.url, u)
    assert moderator.get(f"/v1/admin/items/{item}/label").json()["label"] == "unsafe"
