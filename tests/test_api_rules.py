"""The hard rules, through HTTP against a real server: consent revocation on the very next
request (precomputed pages included), the scroll limit to the item, chat opt-out switching
the next page to online ranking without the chat-built taste vector, DM policy and blocks.

(Rule 2's "no per-user signal without personalization" is in test_api_supervised.py: it
needs snapshots of its own.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
import pytest

from ranking.engine import Engine
from ranking.policy import read_live
from ranking.session import Session
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


@dataclass(frozen=True)
class Api:
    home: DataHome
    server: Server
    service: str

    def user(self, user: object) -> object:
        return self.server.client(token(self.home, "user", user))

    def guardian_of(self, child: object):
        control = self.home.control()
        (guardian,) = control.execute("SELECT guardian_id FROM guardians WHERE child_id = ?",
                                      [child]).fetchone()
        control.close()
        return self.server.client(token(self.home, "guardian", guardian))


@pytest.fixture(scope="module")
def api(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api-rules")
    home = copy_home(scored_home, root / "home")
    with Server(home, root / "server.log") as server:
        yield Api(home, server, token(home, "service", "app"))


def _snapshot_table(home: DataHome, name: str) -> pl.DataFrame:
    return pl.read_parquet(home.dir("snapshots") / "latest" / name)


def _feeds(home: DataHome) -> pl.DataFrame:
    return pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")


def _supervised(home: DataHome) -> set[object]:
    control = home.control()
    rows = control.execute("SELECT child_id, guardian_id FROM guardians").fetchall()
    control.close()
    return {u for row in rows for u in row}


def _ids(page: dict) -> list[object]:
    return [i["item_id"] for i in page["items"]]


def test_a_revoked_cameo_leaves_a_precomputed_page_on_the_next_request(api: Api) -> None:
    home = api.home
    control = home.control()
    grants = pl.DataFrame(control.execute(
        "SELECT owner_id, grantee_id FROM cameo_grants WHERE revoked_at IS NULL").fetchall(),
        schema=["owner_id", "creator_id"], orient="row")
    control.close()
    cameos = (_snapshot_table(home, "items.parquet")
              .select("item_id", "creator_id", pl.col("cameo_user_ids").alias("owner_id"))
              .explode("owner_id").filter(pl.col("owner_id") != pl.col("creator_id"))
              .join(grants, on=["owner_id", "creator_id"]))
    shown = (_feeds(home).join(cameos, on="item_id")
             .filter(~pl.col("user_id").is_in(list(_supervised(home))))
             .sort("user_id", "position"))
    # The (owner, creator) pair shown to the most viewers: the live feed never repeats a
    # page, so a revocation (and a re-grant) is seen in the first page of viewers who have
    # not been served the page yet.
    pair = (shown.group_by("owner_id", "creator_id").agg(pl.col("user_id").n_unique().alias("n"))
            .sort("n", "owner_id", "creator_id", descending=[True, False, False]).row(0))
    owner, creator = pair[0], pair[1]
    viewers = shown.filter((pl.col("owner_id") == owner) & (pl.col("creator_id") == creator))
    viewer, item = viewers.select("user_id", "item_id").row(0)
    others = [u for u in viewers["user_id"].unique(maintain_order=True) if u != viewer]
    assert len(others) >= 2, "the test world shows this cameo to too few viewers"
    second, third = others[0], others[1]
    client = api.user(viewer)
    before = client.get("/v1/feed", params={"limit": 100})
    assert before.headers["X-Reelrank-Feed"] == "precomputed"
    assert item in _ids(before.json())

    revoked = api.user(owner).delete(f"/v1/cameos/grants/{creator}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = api.user(second).get("/v1/feed", params={"limit": 50})
    assert after.headers["X-Reelrank-Feed"] == "precomputed"
    gone = set(cameos.filter((pl.col("owner_id") == owner) & (pl.col("creator_id") == creator))
               ["item_id"])
    stored = _feeds(home).filter(pl.col("user_id") == second).sort("position")["item_id"]
    assert gone & set(stored) and not gone & set(_ids(after.json()))
    assert [i for i in stored if i not in gone][:50] == _ids(after.json())

    listed = api.user(owner).get("/v1/cameos/grants").json()["grants"]
    assert creator not in [g["grantee_id"] for g in listed]
    assert api.user(owner).delete(f"/v1/cameos/grants/{creator}").status_code == 404
    assert api.user(owner).post("/v1/cameos/grants", json={"grantee_id": creator}
                                ).status_code == 201
    regranted = api.user(third).get("/v1/feed", params={"limit": 100}).json()
    assert gone & set(_ids(regranted))


def _unused_child(api: Api, taken: set[object]) -> object:
    control = api.home.control()
    kids = [c for (c,) in control.execute("SELECT child_id FROM guardians ORDER BY child_id")]
    control.close()
    return next(k for k in kids if k not in taken)


def test_the_scroll_limit_caps_items_served_today_exactly(api: Api) -> None:
    child = _unused_child(api, set())
    guardian = api.guardian_of(child)
    rules = guardian.patch(f"/v1/guardian/children/{child}", json={"scroll_limit": 7})
    assert rules.status_code == 200 and rules.json()["scroll_limit"] == 7
    assert guardian.delete(f"/v1/guardian/children/{child}/override").status_code == 200
    client = api.user(child)

    first = client.get("/v1/feed", params={"limit": 5}).json()
    assert len(first["items"]) == 5 and first["remaining_today"] == 2 and first["cursor"]
    second = client.get("/v1/feed", params={"limit": 5, "cursor": first["cursor"]}).json()
    assert len(second["items"]) == 2 and second["remaining_today"] == 0
    assert not set(_ids(first)) & set(_ids(second))
    third = client.get("/v1/feed", params={"limit": 5}).json()
    assert third["items"] == [] and third["remaining_today"] == 0

    raised = guardian.put(f"/v1/guardian/children/{child}/override", json={"limit": 10})
    assert raised.json()["scroll_override"] == 10 and raised.json()["override_day"]
    more = client.get("/v1/feed", params={"limit": 5}).json()
    assert len(more["items"]) == 3 and more["remaining_today"] == 0
    assert client.get("/v1/feed", params={"limit": 5}).json()["items"] == []
    cleared = guardian.delete(f"/v1/guardian/children/{child}/override").json()
    assert cleared["scroll_override"] is None
    assert client.get("/v1/feed").json()["remaining_today"] == 0

    lifted = guardian.patch(f"/v1/guardian/children/{child}", json={"scroll_limit": None})
    assert lifted.json()["scroll_limit"] is None
    unlimited = client.get("/v1/feed", params={"limit": 4}).json()
    assert len(unlimited["items"]) == 4 and unlimited["remaining_today"] is None


def test_chat_opt_out_stops_using_the_chat_vector_on_the_next_request(api: Api) -> None:
    home = api.home
    from_chat = _snapshot_table(home, "user_embeddings.parquet").filter("from_chat")["user_id"]
    control = home.control()
    opted_in = {u for (u,) in control.execute(
        "SELECT user_id FROM user_settings WHERE chat_personalization = 1")}
    control.close()
    scored = set(_feeds(home)["user_id"])
    control = home.control()
    served = {u for (u,) in control.execute("SELECT DISTINCT user_id FROM served_history")}
    control.close()
    user = next(u for u in from_chat if u in opted_in and u in scored
                and u not in _supervised(home) and u not in served)  # a first page today
    client = api.user(user)
    before = client.get("/v1/feed", params={"limit": 30})
    assert before.headers["X-Reelrank-Feed"] == "precomputed"

    put = client.put("/v1/me/settings", json={"chat_personalization": False})
    assert put.json() == {"user_id": user, "chat_personalization": False, "supervised": False}
    after = client.get("/v1/feed", params={"limit": 30})
    assert after.headers["X-Reelrank-Feed"] == "online"

    # What the server ranked is what the engine ranks with no taste vector for this user,
    # without what it already served them.
    engine = Engine.load(ServingSnapshot.load(home.dir("snapshots") / "latest"), home.settings)
    control = home.control()
    live = read_live(control, [user], date.today())
    assert not live.policy(user).chat_history and engine.query(user, live.policy(user)).vector \
        is None
    served = Session(served=np.array([engine.snap.item_row[i] for i in _ids(before.json())]))
    expected = engine.rank([user], live, sessions={user: served}).pages[0]
    control.close()
    assert _ids(after.json()) == expected.item_ids[:30]

    assert client.put("/v1/me/settings", json={"chat_personalization": True}).status_code == 200
    again = client.get("/v1/feed", params={"limit": 30})
    assert again.headers["X-Reelrank-Feed"] == "precomputed"
    stored = _feeds(home).filter(pl.col("user_id") == user).sort("position")["item_id"]
    shown = set(_ids(before.json())) | set(_ids(after.json()))
    assert _ids(again.json()) == [i for i in stored if i not in shown][:30]
