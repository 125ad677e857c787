"""In-session reaction in the engine, on hand-built sessions: a like moves the page toward
what was liked, "not interested" keeps a creator out, turned-away topics sink, and served
items give way to others (the catalog backfilling) until nothing else is left."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.engine import Engine
from ranking.live import LiveState
from ranking.session import Session
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome

NOBODY = LiveState(frozenset(), {}, {})


@pytest.fixture(scope="module")
def engine(scored_home: DataHome) -> Engine:
    snap = ServingSnapshot.load(scored_home.dir("snapshots") / "latest")
    return Engine.load(snap, scored_home.settings.model_copy(update={
        "ranker_backend": "lightgbm"}))


def _topic_share(engine: Engine, ids: list[object], topic: int) -> float:
    rows = np.array([engine.snap.item_row[i] for i in ids])
    return float((engine.snap.item_topic[rows] == topic).mean()) if len(rows) else 0.0


def _user_and_rare_topic(engine: Engine) -> tuple[object, int, list[int]]:
    """A user, and a topic barely on their page, with items of it to like."""
    snap = engine.snap
    for user in snap.active_users().to_list()[:60]:
        page = engine.rank([user], NOBODY).pages[0]
        rows = np.array([snap.item_row[i] for i in page.item_ids[:20]])
        shown = set(snap.item_topic[rows].tolist())
        for topic in range(len(snap.topic_code)):
            items = np.flatnonzero((snap.item_topic == topic) & snap.has_vector
                                   & ~snap.item_unservable)
            if topic not in shown and len(items) >= 8:
                return user, topic, items.tolist()
    raise AssertionError("no user with an unshown topic")


def test_likes_move_the_next_page_toward_what_was_liked(engine: Engine) -> None:
    user, topic, items = _user_and_rare_topic(engine)
    before = engine.rank([user], NOBODY).pages[0].item_ids[:20]
    liked = Session(liked=tuple((r, 1.0) for r in items[:3]), engaged=np.array(items[:3]))
    after = engine.rank([user], NOBODY, sessions={user: liked}).pages[0]
    assert _topic_share(engine, after.item_ids[:20], topic) > \
        _topic_share(engine, before, topic) + 0.1
    assert any("session" in s for s in after.sources[:20])
    assert not set(after.item_ids) & {engine.snap.item_id_list[r] for r in items[:3]}


def test_not_interested_keeps_the_creator_out(engine: Engine) -> None:
    snap = engine.snap
    user = snap.active_users()[5]
    page = engine.rank([user], NOBODY).pages[0]
    creator = int(snap.item_creator[snap.item_row[page.item_ids[0]]])
    muted = Session(muted_creators=np.array([creator]),
                    engaged=np.array([snap.item_row[page.item_ids[0]]]))
    out = engine.rank([user], NOBODY, sessions={user: muted})
    shown = {int(snap.item_creator[snap.item_row[i]]) for i in out.pages[0].item_ids}
    assert creator not in shown and out.removed["not_interested_creator"] > 0


def test_a_turned_away_topic_sinks(engine: Engine) -> None:
    snap = engine.snap
    user = snap.active_users()[7]
    page = engine.rank([user], NOBODY).pages[0]
    rows = np.array([snap.item_row[i] for i in page.item_ids[:20]])
    topic = int(np.bincount(snap.item_topic[rows][snap.item_topic[rows] >= 0]).argmax())
    demoted = Session(muted_topics=np.array([topic]))
    after = engine.rank([user], NOBODY, sessions={user: demoted}).pages[0]
    assert _topic_share(engine, after.item_ids[:20], topic) < \
        _topic_share(engine, page.item_ids[:20], topic)


def test_served_items_give_way_until_the_catalog_runs_out(engine: Engine) -> None:
    snap = engine.snap
    user = snap.active_users()[9]
    served: list[int] = []
    pages = 0
    while True:
        session = Session(served=np.array(served, dtype=np.int64))
        page = engine.rank([user], NOBODY, sessions={user: session}).pages[0]
        rows = [snap.item_row[i] for i in page.item_ids[:20]]
        if not rows:
            break
        assert not set(rows) & set(served)
        served += rows
        pages += 1
        assert pages < 100
    seen = set(snap.seen.values[snap.seen.of(snap.user_row[user])].tolist())
    servable = {r for r in range(snap.n_items) if not snap.item_unservable[r]} - seen
    assert servable - set(served) <= _blocked_by_consent(engine, user, servable)
    assert len(served) == len(set(served)) >= 0.8 * len(servable)


def _blocked_by_consent(engine: Engine, user: object, rows: set[int]) -> set[int]:
    """Rows the consent filter keeps from everyone (no grants in NOBODY)."""
    snap = engine.snap
    return {r for r in rows if len(snap.cameo_people.values[
        snap.cameo_people.ptr[r]:snap.cameo_people.ptr[r + 1]])}


def test_a_request_page_is_the_full_pages_first_items(engine: Engine) -> None:
    """`first`: the selection stops at a request's page; what it returns is exactly the
    head of the full page (greedy selection), for every kind of user and session."""
    snap = engine.snap
    users = snap.active_users().head(30).to_list()
    full = engine.rank(users, NOBODY).pages
    for first in (1, 7, 20):
        short = engine.rank(users, NOBODY, first=first).pages
        for a, b in zip(full, short, strict=True):
            assert b.item_ids == a.item_ids[:first]
            np.testing.assert_array_equal(b.scores, a.scores[:first])
    liked = Session(liked=((int(snap.item_row[full[0].item_ids[0]]), 1.0),),
                    engaged=np.array([snap.item_row[full[0].item_ids[0]]]))
    a = engine.rank(users[:1], NOBODY, sessions={users[0]: liked}).pages[0]
    b = engine.rank(users[:1], NOBODY, sessions={users[0]: liked}, first=10).pages[0]
    assert b.item_ids == a.item_ids[:10]
