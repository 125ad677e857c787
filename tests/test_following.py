"""The Following tab over real HTTP (`GET /v1/feed?mode=following`): only the people the
user follows and their friends, newest first, paged without overlap by a cursor that belongs
to that tab, under the feed's policy: a revoked cameo leaves it on the next request, a
supervised account sees only items rated safe, and an account with personalization off is
refused (the tab is built from whom it follows)."""

from __future__ import annotations

import pytest

from ranking.snapshot.items import RATINGS
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


@pytest.fixture(scope="module")
def server(live_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("following-api")
    home = copy_home(live_home, root / "home")
    with Server(home, root / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def snap(server: Server) -> ServingSnapshot:
    return ServingSnapshot.load(server.home.dir("snapshots") / "latest")


def _people(snap: ServingSnapshot, user: object) -> set[object]:
    row = snap.user_row[user]
    return {snap.user_ids[int(p)] for p in snap.people.values[snap.people.of(row)]}


def _tab(server: Server, bearer: str, cursor: str | None = None, limit: int = 10,
         **params: object) -> dict:
    answer = server.client(bearer).get("/v1/feed", params={
        "mode": "following", "limit": limit, **({"cursor": cursor} if cursor else {}),
        **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Reelrank-Feed"] == "following"
    return answer.json()


def _kids(home: DataHome) -> set[object]:
    control = home.control()
    kids = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    control.close()
    return kids


def _busy_followers(snap: ServingSnapshot, exclude: set[object]) -> list[object]:
    """Users whose people made the most videos, most first."""
    counts = []
    for user in snap.user_ids.to_list():
        if user in exclude:
            continue
        row = snap.user_row[user]
        people = snap.people.values[snap.people.of(row)]
        made = sum(len(snap.by_creator.rows[snap.by_creator.of(int(p))]) for p in people)
        counts.append((-made, str(user), user))
    return [u for _m, _s, u in sorted(counts)]


def test_only_people_followed_newest_first_without_overlap(server: Server,
                                                           snap: ServingSnapshot) -> None:
    user = _busy_followers(snap, _kids(server.home))[0]
    bearer = token(server.home, "user", user)
    people = _people(snap, user)
    shown: list[object] = []
    cursor = None
    for _ in range(3):
        page = _tab(server, bearer, cursor)
        shown += [i["item_id"] for i in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert len(shown) >= 20 and len(shown) == len(set(shown))
    rows = [snap.row_of(i) for i in shown]
    assert {snap.creator_id_of(r) for r in rows} <= people
    created = [float(snap.item_created_s[r]) for r in rows]
    assert created == sorted(created, reverse=True)
    # The for-you feed's cursor does not scroll this tab, nor this tab's the feed.
    feed = server.client(bearer).get("/v1/feed", params={"limit": 5}).json()
    wrong = server.client(bearer).get("/v1/feed", params={"mode": "following",
                                                          "cursor": feed["cursor"]})
    assert wrong.status_code == 422


def test_a_revoked_cameo_leaves_the_tab_on_the_next_request(server: Server,
                                                            snap: ServingSnapshot) -> None:
    kids = _kids(server.home)
    for user in _busy_followers(snap, kids)[:200]:
        bearer = token(server.home, "user", user)
        page = _tab(server, bearer, limit=50)
        cameo = next(((i["item_id"], o) for i in page["items"]
                      for o in snap.owners_of(snap.row_of(i["item_id"]))
                      if o != snap.creator_id_of(snap.row_of(i["item_id"]))), None)
        if cameo is not None:
            break
    else:
        pytest.fail("no Following tab showed a video with someone else's cameo")
    item, owner = cameo
    creator = snap.creator_id_of(snap.row_of(item))
    revoke = server.client(token(server.home, "user", owner)).delete(
        f"/v1/cameos/grants/{creator}")
    assert revoke.status_code == 200, revoke.text
    after = _tab(server, bearer, limit=50)
    assert item not in [i["item_id"] for i in after["items"]]


def test_a_supervised_account_sees_only_safe_items_and_off_means_refused(
        server: Server, snap: ServingSnapshot) -> None:
    control = server.home.control()
    pairs = control.execute("SELECT child_id, guardian_id FROM guardians").fetchall()
    control.close()
    safe_code = RATINGS.index("safe")
    child, guardian = next((c, g) for c, g in pairs if c in snap.user_row
                           and _people(snap, c))
    service = server.client(token(server.home, "service", "app"))
    assert service.patch(f"/v1/guardian/children/{child}", params={"guardian_id": guardian},
                         json={"personalization": True}).status_code == 200
    page = _tab(server, token(server.home, "service", "app"), limit=50, user_id=child)
    assert page["items"], "the child's tab is empty: nothing to check"
    assert all(int(snap.item_rating[snap.row_of(i["item_id"])]) == safe_code
               for i in page["items"])
    assert service.patch(f"/v1/guardian/children/{child}", params={"guardian_id": guardian},
                         json={"personalization": False}).status_code == 200
    refused = service.get("/v1/feed", params={"mode": "following", "user_id": child})
    assert refused.status_code == 403


def test_why_names_true_sources_and_the_top_contributions(server: Server,
                                                         snap: ServingSnapshot) -> None:
    from datetime import UTC, datetime

    import numpy as np

    from ranking.engine import Engine
    from ranking.policy import read_live

    engine = Engine.load(snap, server.home.settings)
    assert engine.ranker is not None
    kids = _kids(server.home)
    users = [u for u in snap.active_users().to_list() if u not in kids][300:310]
    checked = 0
    for user in users:
        bearer = token(server.home, "user", user)
        page = server.client(bearer).get("/v1/feed", params={"limit": 10}).json()
        control = server.home.control()
        policy = read_live(control, [user], datetime.now(UTC).date()).policy(user)
        control.close()
        query = engine.query(user, policy)
        for item in page["items"]:
            why = server.client(bearer).get(f"/v1/feed/items/{item['item_id']}/why")
            assert why.status_code == 200, why.text
            why = why.json()
            # The sources that put it on the page propose it still (served items only make
            # the sources reach deeper; this runs before anything is added to the catalog).
            assert set(item["source"].split(",")) <= set(why["sources"]), (item, why)
            row = snap.row_of(item["item_id"])
            matrix = engine.features.rows(query.row, np.array([row]), query.vector, snap)
            contrib = engine.ranker.booster.predict(matrix, pred_contrib=True)[0][:-1]
            top = {engine.ranker.features[n] for n in np.argsort(-contrib)[:3]
                   if contrib[n] > 0}
            named = [c["feature"] for c in why["contributions"]]
            assert set(named) == top, (named, top)
            for c in why["contributions"]:
                n = engine.ranker.features.index(c["feature"])
                assert c["value"] == pytest.approx(float(matrix[0, n]))
                assert c["contribution"] == pytest.approx(float(contrib[n]), rel=1e-6)
            checked += 1
    assert checked >= 90
    unknown = server.client(token(server.home, "user", users[0])).get(
        "/v1/feed/items/no-such-item/why")
    assert unknown.status_code == 404


def test_appearances_list_exactly_the_videos_that_show_me(server: Server,
                                                         snap: ServingSnapshot) -> None:
    from datetime import UTC, datetime

    import duckdb

    from reelrank.control.items import insert_generated_item

    warehouse = duckdb.connect(str(server.home.root / "warehouse.duckdb"), read_only=True)
    rows = warehouse.execute("SELECT item_id, creator_id, cameo_user_ids FROM items "
                             "WHERE len(cameo_user_ids) > 0").fetchall()
    warehouse.close()
    shows: dict[object, set[object]] = {}
    for item, creator, cameos in rows:
        for person in cameos:
            if person != creator:
                shows.setdefault(person, set()).add(item)
    owner = max(shows, key=lambda p: (len(shows[p]), str(p)))
    creator = next(c for c in snap.user_ids.to_list() if c != owner)
    now = datetime.now(UTC)
    control = server.home.control()
    try:
        control.execute("BEGIN")
        insert_generated_item(control, {
            "item_id": "g-likeness", "request_id": "r-likeness", "creator_id": creator,
            "created_at": now.isoformat(), "text": "my likeness, today",
            "cameo_user_ids": [owner], "remix_of": None, "duration_s": 4.0,
            "media_path": "media/r/clip.gif", "thumbnail_path": "media/r/thumbnail.png",
            "embedding": None, "embedding_model": None, "safety_label": "safe"})
        control.execute("COMMIT")
    finally:
        control.close()
    me = server.client(token(server.home, "user", owner))
    listed = me.get("/v1/cameos/appearances").json()["appearances"]
    assert {a["item_id"] for a in listed} == shows[owner] | {"g-likeness"}
    assert listed[0]["item_id"] == "g-likeness"  # newest first
    created = [a["created_at"] for a in listed]
    assert created == sorted(created, reverse=True)
    assert all(owner in a["cameo_user_ids"] for a in listed)
    today = listed[0]
    assert today["creator_id"] == creator and today["consented"] is False  # no grant yet
    assert today["servable"] is False
    # Granting makes it servable on the next request; revoking takes it back.
    assert me.post("/v1/cameos/grants", json={"grantee_id": creator}).status_code == 201
    again = {a["item_id"]: a for a in me.get("/v1/cameos/appearances").json()["appearances"]}
    assert again["g-likeness"]["consented"] and again["g-likeness"]["servable"]
    assert me.delete(f"/v1/cameos/grants/{creator}").status_code == 200
    gone = {a["item_id"]: a for a in me.get("/v1/cameos/appearances").json()["appearances"]}
    assert not gone["g-likeness"]["servable"]
    # Someone else's list does not hold it.
    other = server.client(token(server.home, "user", creator)).get(
        "/v1/cameos/appearances").json()["appearances"]
    assert "g-likeness" not in {a["item_id"] for a in other}


def test_why_words_state_the_feature_and_its_value() -> None:
    from api.why import words_for

    assert words_for("user_creator_completes_rate_28d", 0.72) == (
        "how often you finished this creator's videos in the last 28 days (72%)")
    assert words_for("item_impressions_7d", 1234.0) == (
        "how many times viewers saw this video in the last 7 days (1,234)")
    assert words_for("follows_creator", 1.0) == "you follow its creator"
    assert words_for("follows_creator", 0.0) == "you do not follow its creator"
    assert words_for("region_item_likes_rate_1d", 0.05) == (
        "how often people in your region liked this video in the last day (5%)")
    assert words_for("something_new", 2.5) == "something new (2.5)"
