"""The feed reacts within the session, over real HTTP: what a person does shapes their very
next page, before any pipeline run. "Not interested" keeps the creator out of the next
pages; a report hides the item from the reporter at once and, once enough people reported
it, from everyone until a moderator labels it; likes move the next page toward what was
liked. And `session_from_events`, the reading of events into a session, piece by piece."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from api.session import ReportTally, session_from_events
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome
from reelrank.settings import Settings
from tests.test_api_support import Server, copy_home, token


@pytest.fixture(scope="module")
def server(live_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("reaction-api")
    home = copy_home(live_home, root / "home")
    with Server(home, root / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def snap(server: Server) -> ServingSnapshot:
    return ServingSnapshot.load(server.home.dir("snapshots") / "latest")


def _adults(home: DataHome) -> list[object]:
    """Adults with a precomputed page, by id."""
    control = home.control()
    kids = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    control.close()
    feeds = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")
    return sorted(u for u in feeds["user_id"].unique().to_list() if u not in kids)


def _post(server: Server, user: object, item: object, kind: str) -> None:
    client = server.client(token(server.home, "user", user))
    now = datetime.now(UTC).isoformat()
    answer = client.post("/v1/events", json={"events": [{
        "event_id": uuid.uuid4().hex, "user_id": user, "item_id": item, "event_type": kind,
        "ts": now}]})
    assert answer.status_code == 200, answer.text


def _page(server: Server, user: object, limit: int = 20) -> dict:
    answer = server.client(token(server.home, "user", user)).get(
        "/v1/feed", params={"limit": limit})
    assert answer.status_code == 200, answer.text
    return answer.json() | {"how": answer.headers["X-Reelrank-Feed"]}


def _ids(page: dict) -> list[object]:
    return [i["item_id"] for i in page["items"]]


def test_not_interested_keeps_the_creator_out_of_the_next_three_pages(
        server: Server, snap: ServingSnapshot) -> None:
    users = _adults(server.home)
    # A user whose first page shows a creator with more videos in the catalog.
    for user in users[:40]:
        first = _ids(_page(server, user))
        creators = Counter(snap.creator_id_of(snap.row_of(i)) for i in first)
        pick = next((i for i in first if creators[snap.creator_id_of(snap.row_of(i))] >= 2),
                    None)
        if pick is not None:
            break
    else:
        pytest.fail("no user's first page showed two videos by one creator")
    creator = snap.creator_id_of(snap.row_of(pick))
    _post(server, user, pick, "not_interested")
    for n in range(3):
        page = _page(server, user)
        assert page["items"], n
        shown = {snap.creator_id_of(snap.row_of(i)) for i in _ids(page)}
        assert creator not in shown, (n, creator)


def test_a_report_hides_the_item_from_the_reporter_at_once(
        server: Server, snap: ServingSnapshot) -> None:
    user = _adults(server.home)[41]
    feeds = pl.read_parquet(server.home.dir("feeds") / "latest" / "*.parquet")
    # The second half of the batch's page: what the next request would show.
    ahead = feeds.filter((pl.col("user_id") == user) & (pl.col("position") > 10)
                         ).sort("position")["item_id"].to_list()
    first = _page(server, user, 10)
    assert first["how"] == "precomputed"
    item = ahead[0]
    _post(server, user, item, "report")
    page = _page(server, user, 20)
    assert item not in _ids(page)


def test_enough_reports_hide_an_item_from_everyone_until_a_moderator_labels_it(
        server: Server) -> None:
    users = _adults(server.home)
    feeds = pl.read_parquet(server.home.dir("feeds") / "latest" / "*.parquet")
    fresh = feeds.filter(pl.col("user_id").is_in(users[60:]) & (pl.col("position") <= 5))
    # An item at the top of several untouched users' batch pages.
    item, viewers = (fresh.group_by("item_id").agg(pl.col("user_id").sort())
                     .sort(pl.col("user_id").list.len(), "item_id", descending=[True, False])
                     .row(0))
    assert len(viewers) >= 2
    threshold = server.home.settings.report_hide_threshold
    reporters = users[45:45 + threshold]
    for reporter in reporters[:-1]:
        _post(server, reporter, item, "report")
    page = _page(server, viewers[0])
    assert item in _ids(page), "hidden before enough people reported it"
    _post(server, reporters[-1], item, "report")
    page = _page(server, viewers[1])
    assert item not in _ids(page)
    assert page["how"] == "precomputed", "a report by others must not cost the batch's page"
    moderator = server.client(token(server.home, "service", "moderation"))
    assert moderator.put(f"/v1/admin/items/{item}/label",
                         json={"label": "safe"}).status_code == 200
    if len(viewers) > 2:
        assert item in _ids(_page(server, viewers[2]))


def test_likes_move_the_next_page_toward_their_topic(server: Server,
                                                     snap: ServingSnapshot) -> None:
    users = _adults(server.home)
    moved = []
    for user in users[80:90]:
        first = _ids(_page(server, user))
        topics = Counter(int(snap.item_topic[snap.row_of(i)]) for i in first)
        # The topic the page shows least (but at least once): liking it is a change of taste.
        topic = min(topics, key=lambda t: (topics[t], t))
        liked = [i for i in first if int(snap.item_topic[snap.row_of(i)]) == topic]
        for item in liked:
            _post(server, user, item, "like")
        after = _ids(_page(server, user))
        share_after = sum(int(snap.item_topic[snap.row_of(i)]) == topic for i in after)
        moved.append(share_after - topics[topic])
    # Over ten people, liking a topic shows more of it on the next page.
    assert np.mean(moved) > 1, moved


# --- reading events into a session --------------------------------------------------------


def _ts(now: datetime, minutes_ago: float) -> str:
    return (now - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_events_make_the_session(snap: ServingSnapshot) -> None:
    settings = Settings(skip_run=3, not_interested_hours=1.0)
    now = datetime.now(UTC)
    ids = snap.item_id_list
    by_topic: dict[int, list[int]] = {}
    for row in range(snap.n_items):
        by_topic.setdefault(int(snap.item_topic[row]), []).append(row)
    topic, rows = max(by_topic.items(), key=lambda kv: len(kv[1]))
    a, b, c, d, e, f = rows[:6]
    events = [
        (ids[a], "like", _ts(now, 30)), (ids[b], "complete", _ts(now, 29)),
        (ids[a], "share", _ts(now, 28)),
        (ids[c], "not_interested", _ts(now, 120)),  # older than not_interested_hours
        (ids[d], "report", _ts(now, 10)),
        (ids[e], "impression", _ts(now, 9)),
        ("no-such-item", "like", _ts(now, 8)),
    ]
    session = session_from_events(snap, events, settings, now)
    assert set(session.engaged) == {a, b, c, d} and e not in session.engaged
    assert session.hidden.tolist() == [d]
    assert [r for r, _w in session.liked] == [a, b]  # newest first
    assert dict(session.liked)[a] == settings.session_weight_like + settings.session_weight_share
    assert not len(session.muted_creators) and not len(session.muted_topics)
    assert session.recent.tolist() == [b, a]  # oldest first, a's last step the share

    recent = [(ids[c], "not_interested", _ts(now, 5))]
    muted = session_from_events(snap, recent, settings, now)
    assert muted.muted_creators.tolist() == [int(snap.item_creator[c])]
    assert muted.muted_topics.tolist() == [topic]

    skips = [(ids[r], "skip", _ts(now, 5 - n)) for n, r in enumerate((a, b, e))]
    assert session_from_events(snap, skips, settings, now).muted_topics.tolist() == [topic]
    broken = [*skips[:2], (ids[f], "complete", _ts(now, 2.5)), skips[2]]
    assert not len(session_from_events(snap, broken, settings, now).muted_topics)
    assert session_from_events(snap, skips[:2], settings, now).reacted


def test_the_tally_counts_distinct_reporters_since_the_last_review(tmp_path) -> None:
    from reelrank.control.connection import connect, stamp
    from reelrank.control.labels import set_label

    con = connect(tmp_path / "control.sqlite")
    now = datetime.now(UTC)
    tally = ReportTally(threshold=2)

    def at(n: int) -> str:
        return stamp(now + timedelta(seconds=n))

    tally.add([("u1", "x", at(1)), ("u1", "x", at(2))])  # one person twice: one reporter
    assert tally.poll(con) == frozenset()
    tally.add([("u2", "x", at(3))])
    assert tally.poll(con) == {"x"}
    con.execute("BEGIN")
    set_label(con, "x", "safe", by="mod", reason=None, now=now + timedelta(seconds=4))
    con.execute("COMMIT")
    assert tally.poll(con) == frozenset()  # reviewed: the old reports are answered
    tally.add([("u3", "x", at(5)), ("u4", "x", at(6))])
    assert tally.poll(con) == {"x"}
    con.close()


# --- live item statistics ------------------------------------------------------------------


def test_live_counts_spend_exploration_and_steer_it(snap: ServingSnapshot) -> None:
    from ranking.context import UserQuery
    from ranking.live import UserPolicy
    from ranking.snapshot.overlay import LiveItems
    from ranking.snapshot.view import view_of
    from ranking.sources import fresh

    settings = Settings(fresh_max_impressions=50, fresh_per_user=10, fresh_explore_share=0.5,
                        fresh_max_age_hours=24 * 30)
    pool = fresh.fresh_rows(snap, settings)
    assert len(pool) > 20
    spent, good, bad, *others = (snap.item_id_list[int(r)] for r in pool[:13])
    live = LiveItems.empty(snap).counted(snap, {spent: (60, 0), good: (20, 18), bad: (20, 0),
                                                **{o: (20, 6) for o in others}})
    view = view_of(snap, live)
    assert view.take("item_impressions", pool[:1])[0] == snap.item_impressions[pool[0]] + 60
    live_pool = fresh.fresh_rows(view, settings)
    assert snap.row_of(spent) not in live_pool and snap.row_of(good) in live_pool

    users = snap.active_users().to_list()[:200]
    queries = [UserQuery(u, snap.user_row[u], UserPolicy(u), None) for u in users]
    picked = fresh.propose(view, queries, settings)
    shown = Counter(int(r) for c in picked for r in c.rows)
    # The video that wins when shown is explored far more than the one that never does.
    assert shown[snap.row_of(good)] > 3 * max(shown[snap.row_of(bad)], 1) > 0
    # With nothing counted, exploration is the batch's window, as before.
    plain = fresh.propose(snap, queries, settings)
    again = fresh.propose(view_of(snap, LiveItems.empty(snap)), queries, settings)
    assert all(np.array_equal(a.rows, b.rows) for a, b in zip(plain, again, strict=True))


def test_a_generation_made_today_is_served_by_the_similar_source_at_once(
        server: Server, snap: ServingSnapshot, tmp_path) -> None:
    """Not only the exploration slot: a video made this hour joins the taste retrieval, so a
    stranger whose taste it matches gets it on the next request."""
    from api.feed import FeedService
    from ranking.engine import Engine
    from reelrank.control.items import insert_generated_item

    home = copy_home(server.home, tmp_path / "home")
    engine = Engine.load(ServingSnapshot.load(home.dir("snapshots") / "latest",
                                              spare_items=10), home.settings)
    service = FeedService(engine, None)
    control = home.control()
    kids = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    user = next(u for u in _adults(home)[100:] if u not in kids
                and engine.snap.user_vectors.get(engine.snap.user_row[u]) is not None)
    row = engine.snap.user_row[user]
    people = set(engine.snap.people.values[engine.snap.people.of(row)].tolist())
    stranger = next(u for u in engine.snap.user_ids if engine.snap.user_row[u] not in people
                    and u != user)
    now = datetime.now(UTC)
    control.execute("BEGIN")
    insert_generated_item(control, {
        "item_id": "g-taste", "request_id": "r-taste", "creator_id": stranger,
        "created_at": now.isoformat(), "text": "made for this taste", "cameo_user_ids": [],
        "remix_of": None, "duration_s": 4.0, "media_path": "media/r-taste/clip.gif",
        "thumbnail_path": "media/r-taste/thumbnail.png",
        "embedding": engine.snap.user_vectors.get(row), "embedding_model": "test",
        "safety_label": "safe"})
    control.execute("COMMIT")
    page = service.page(control, user, limit=20, cursor=None, now=now)
    control.close()
    shown = {i.item_id: i.source for i in page.items}
    assert "g-taste" in shown, shown
    assert "similar" in shown["g-taste"].split(","), shown["g-taste"]
