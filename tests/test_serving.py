"""The serving snapshot and the sources that read it: equal to the point-in-time SQL, refused
when corrupt, and each source proposing what it promises."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ranking.assembler import FeatureAssembler
from ranking.context import UserQuery
from ranking.dataset import candidate_rows
from ranking.engine import Engine
from ranking.policy import LiveState, UserPolicy, read_live
from ranking.publish import publish_snapshot
from ranking.ranker import TrainedRanker
from ranking.snapshot.reader import ServingSnapshot
from ranking.sources import ann, collaborative, fresh, graph, trending
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

NOBODY = LiveState(frozenset(), {}, {})


@pytest.fixture(scope="module")
def snap(scored_home: DataHome) -> ServingSnapshot:
    return ServingSnapshot.load(scored_home.dir("snapshots") / "latest")


def _query(snap: ServingSnapshot, user: object, **policy: object) -> UserQuery:
    row = snap.user_row[user]
    return UserQuery(user, row, UserPolicy(user, **policy), snap.user_vectors.get(row))


def test_snapshot_features_equal_the_point_in_time_rows(scored_home: DataHome,
                                                        snap: ServingSnapshot) -> None:
    """Every ranker feature, for users with and without history and items with and without
    engagement, equals what training rows compute for the same date."""
    ranker = TrainedRanker.load(snap.ranker_dir)
    users = [*snap.active_users().sample(12, seed=1).to_list(),
             *snap.user_ids.filter(~snap.user_ids.is_in(snap.active_users().implode())).head(3)
             .to_list()]
    items = snap.item_ids.sample(40, seed=2).to_list()
    pairs = pl.DataFrame({"user_id": [u for u in users for _ in items],
                          "item_id": [i for _ in users for i in items]})
    con = scored_home.warehouse()
    try:
        expected = candidate_rows(con, pairs, snap.as_of, scored_home.settings)
    finally:
        con.close()
    expected = expected.sort("user_id", "item_id")
    assembler = FeatureAssembler(snap, ranker.features)
    got = np.vstack([
        assembler.rows(snap.user_row[u], np.array([snap.item_row[i] for i in part["item_id"]]),
                       snap.user_vectors.get(snap.user_row[u]))
        for (u,), part in expected.group_by("user_id", maintain_order=True)])
    want = expected.select(ranker.features).cast(pl.Float64).to_numpy()
    close = np.isclose(got, want, rtol=1e-6, atol=1e-6, equal_nan=True)
    wrong = sorted({ranker.features[c] for c in np.flatnonzero(~close.all(axis=0))})
    assert not wrong, f"snapshot features differ from point-in-time rows: {wrong}"


def test_a_corrupt_snapshot_is_refused_and_the_live_one_stays(scored_home: DataHome,
                                                             tmp_path: Path) -> None:
    root = scored_home.dir("snapshots")
    live = (root / "latest").resolve()
    broken = root / "broken-copy"
    shutil.copytree(live, broken)
    try:
        path = broken / "features_item.parquet"
        path.write_bytes(path.read_bytes()[:-10])
        with pytest.raises(ReelrankError, match="features_item.parquet"):
            ServingSnapshot.load(broken)
        (broken / "manifest.json").unlink()
        with pytest.raises(ReelrankError, match="not a finished snapshot"):
            publish_snapshot(root, broken)
        assert (root / "latest").resolve() == live
    finally:
        shutil.rmtree(broken)


def test_similar_proposes_the_nearest_items_to_the_taste_vector(snap: ServingSnapshot) -> None:
    user = snap.active_users()[0]
    q = _query(snap, user)
    (found,) = ann.propose(snap, [q], _settings(candidates_per_source=15))
    cosine = snap.item_vectors @ q.vector / np.linalg.norm(q.vector)
    best = np.sort(cosine[snap.has_vector])[::-1][:15]
    np.testing.assert_allclose(np.sort(found.scores)[::-1], best, rtol=1e-4)


def test_collaborative_proposes_for_users_with_a_vector(snap: ServingSnapshot) -> None:
    users = [snap.user_ids[r] for r in list(snap.collab_users)[:3]]
    found = collaborative.propose(snap, [_query(snap, u) for u in users], _settings())
    assert all(len(c.rows) > 0 for c in found)
    assert all(np.all(np.diff(c.scores) <= 1e-6) for c in found)  # best first


def test_graph_proposes_only_recent_videos_from_followed_people_and_friends(
        snap: ServingSnapshot) -> None:
    settings = _settings()
    checked = 0
    for user in snap.active_users().head(30):
        q = _query(snap, user)
        (found,) = graph.propose(snap, [q], settings)
        people = set(snap.people.values[snap.people.of(q.row)].tolist())
        assert set(snap.item_creator[found.rows].tolist()) <= people
        age = snap.as_of_s - snap.item_created_s[found.rows]
        assert ((age > 0) & (age <= settings.graph_recent_days * 86_400)).all()
        assert np.all(np.diff(found.scores) <= 0)  # newest first
        checked += len(found.rows)
    assert checked > 0


def test_trending_uses_the_home_region_and_the_declared_country_when_not_personal(
        snap: ServingSnapshot) -> None:
    user = next(u for u in snap.active_users()
                if int(snap.user_region[snap.user_row[u]]) in snap.regional)
    row = snap.user_row[user]
    (personal,) = trending.propose(snap, [_query(snap, user)], _settings())
    np.testing.assert_array_equal(personal.rows,
                                  snap.regional[int(snap.user_region[row])][0][:200])
    (plain,) = trending.propose(snap, [_query(snap, user, personalized=False)], _settings())
    country = snap.user_country[row]
    expected = snap.country_popular.get(country, snap.global_top)[0][:200]
    np.testing.assert_array_equal(plain.rows, expected)


def test_fresh_proposes_new_videos_with_few_impressions_not_ones_own(
        snap: ServingSnapshot) -> None:
    settings = _settings(fresh_max_age_hours=72)
    pool = fresh.fresh_rows(snap, settings)
    assert len(pool) > 0
    users = snap.active_users().head(50).to_list()
    found = fresh.propose(snap, [_query(snap, u) for u in users], settings)
    reached = set()
    for user, c in zip(users, found, strict=True):
        assert set(c.rows.tolist()) <= set(pool.tolist())
        assert not (snap.item_creator[c.rows] == snap.user_row[user]).any()
        reached |= set(c.rows.tolist())
    age = snap.as_of_s - snap.item_created_s[pool]
    assert (age <= 72 * 3600).all()
    assert (snap.item_impressions[pool] < settings.fresh_max_impressions).all()
    assert len(reached) == len(pool) or len(reached) >= 50 * min(30, len(pool)) // 2


def test_a_non_personalized_page_ignores_the_accounts_own_history(
        scored_home: DataHome, snap: ServingSnapshot) -> None:
    """Hard rule 2: give the account someone else's entire history (features, taste
    vector, seen items, graph, region) and its page must not change."""
    engine = Engine.load(snap, scored_home.settings)
    child, other = _two_users_in_one_country(snap)
    off = LiveState(frozenset(), {}, {child: UserPolicy(child, personalized=False,
                                                        supervised=True)})
    before = engine.rank([child], off).pages[0]
    swapped = copy.copy(snap)
    swapped.user_row = {**snap.user_row, child: snap.user_row[other]}
    after = Engine(swapped, scored_home.settings, engine.ranker).rank([child], off).pages[0]
    assert before.item_ids and before.item_ids == after.item_ids
    np.testing.assert_array_equal(before.scores, after.scores)
    # ... whereas a personalized page does change with the history.
    on = engine.rank([child], NOBODY).pages[0]
    on_swapped = Engine(swapped, scored_home.settings, engine.ranker).rank(
        [child], NOBODY).pages[0]
    assert on.item_ids != on_swapped.item_ids


def test_a_taste_vector_from_chat_is_not_used_after_an_opt_out(
        scored_home: DataHome, snap: ServingSnapshot) -> None:
    engine = Engine.load(snap, scored_home.settings)
    row = int(np.flatnonzero(snap.user_vector_from_chat)[0])
    user = snap.user_ids[row]
    assert engine.query(user, UserPolicy(user, chat_history=True)).vector is not None
    assert engine.query(user, UserPolicy(user, chat_history=False)).vector is None
    control = scored_home.control()
    before = control.execute("SELECT chat_personalization FROM user_settings WHERE user_id = ?",
                             [user]).fetchall()
    try:
        control.execute("INSERT INTO user_settings (user_id, chat_personalization, updated_at) "
                        "VALUES (?, 0, '2099-01-01T00:00:00Z') ON CONFLICT (user_id) DO UPDATE "
                        "SET chat_personalization = 0", [user])
        live = read_live(control, [user], date.today())
    finally:  # the home is shared: put the setting back
        control.execute("UPDATE user_settings SET chat_personalization = ? WHERE user_id = ?",
                        [before[0][0] if before else 0, user])
        control.close()
    assert not live.policy(user).chat_history
    assert engine.query(user, live.policy(user)).vector is None


def test_a_blocked_creator_is_never_shown(scored_home: DataHome, snap: ServingSnapshot) -> None:
    engine = Engine.load(snap, scored_home.settings)
    user = snap.active_users()[3]
    page = engine.rank([user], NOBODY).pages[0]
    creator = snap.item_creator_ids[snap.item_row[page.item_ids[0]]]
    live = LiveState(frozenset(), {user: frozenset({creator})}, {})
    out = engine.rank([user], live)
    shown = {snap.item_creator_ids[snap.item_row[i]] for i in out.pages[0].item_ids}
    assert creator not in shown and out.removed["blocked_creator"] > 0


def _two_users_in_one_country(snap: ServingSnapshot) -> tuple[object, object]:
    active = snap.active_users().to_list()
    by_country: dict[str, list[object]] = {}
    for user in active:
        by_country.setdefault(snap.user_country[snap.user_row[user]], []).append(user)
    pair = next(users for country, users in by_country.items() if country and len(users) > 1)
    return pair[0], pair[1]


def _settings(**changes: object):
    from reelrank.settings import Settings

    return Settings(**changes)


def test_claim_served_caps_the_day_at_the_limit(home: DataHome) -> None:
    from ranking.policy import claim_served

    control = home.control()
    now = datetime(2026, 5, 1, 9, tzinfo=UTC)
    control.execute("INSERT INTO guardians (child_id, guardian_id, scroll_limit, linked_at, "
                    "updated_at) VALUES ('kid', 'mum', 7, 'x', 'x')")
    policy = UserPolicy("kid", supervised=True, daily_limit=7)
    assert [claim_served(control, policy, 5, now) for _ in range(3)] == [5, 2, 0]
    assert claim_served(control, policy, 5, now + timedelta(days=1)) == 5
    control.execute("UPDATE guardians SET scroll_override = 9, override_day = ?",
                    [now.date().isoformat()])
    assert claim_served(control, policy, 5, now) == 2
    assert claim_served(control, UserPolicy("adult"), 50, now) == 50
    control.close()


def test_compiled_trees_score_like_lightgbm(scored_home: DataHome, snap: ServingSnapshot
                                            ) -> None:
    from ranking.compiled import compiled_predict

    ranker = TrainedRanker.load(snap.ranker_dir)
    assembler = FeatureAssembler(snap, ranker.features)
    users = snap.active_users().head(20).to_list()
    matrix = np.vstack([assembler.rows(snap.user_row[u], np.arange(snap.n_items),
                                       snap.user_vectors.get(snap.user_row[u]))
                        for u in users])
    compiled = compiled_predict(snap.ranker_dir / "model.txt", snap.directory / ".compiled")
    np.testing.assert_allclose(compiled(matrix), ranker.predict(matrix), rtol=0, atol=1e-9)
    settings = scored_home.settings
    fast = Engine.load(snap, settings.model_copy(update={"ranker_backend": "lleaves"}))
    slow = Engine.load(snap, settings.model_copy(update={"ranker_backend": "lightgbm"}))
    for a, b in zip(fast.rank(users, NOBODY).pages, slow.rank(users, NOBODY).pages,
                    strict=True):
        assert a.item_ids == b.item_ids
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-9)


def test_pruning_keeps_the_newest_runs_and_the_live_one(tmp_path: Path) -> None:
    import os

    from ranking.publish import prune

    for n in range(5):
        run = tmp_path / f"run-{n}"
        run.mkdir()
        os.utime(run, (1_000 + n, 1_000 + n))
    (tmp_path / "latest").symlink_to("run-0")
    removed = prune(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == ["run-1", "run-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "run-0", "run-3", "run-4"]


def test_a_friends_new_generation_reaches_the_next_request(scored_home: DataHome,
                                                           tmp_path: Path) -> None:
    """Same-day reach: a finished generation is in a friend's very next page, before any
    nightly run; a precomputed page is not served over it."""
    from api.feed import FeedService
    from reelrank.control.items import insert_generated_item

    home = DataHome.open(_copy_home(scored_home, tmp_path))
    snap = ServingSnapshot.load(home.dir("snapshots") / "latest", spare_items=10)
    engine = Engine.load(snap, home.settings)
    service = FeedService(engine, home.dir("feeds") / snap.directory.name)
    control = home.control()
    supervised = {r[0] for r in control.execute("SELECT child_id FROM guardians").fetchall()}
    user = next(u for u in snap.active_users().to_list() if u not in supervised
                and len(snap.friends.values[snap.friends.of(snap.user_row[u])]))
    friend = snap.user_ids[int(snap.friends.values[snap.friends.of(snap.user_row[user])][0])]
    now = datetime.now(UTC)
    first = service.page(control, user, limit=20, cursor=None, now=now)
    assert first.precomputed
    control.execute("BEGIN")
    insert_generated_item(control, {
        "item_id": "g-new", "request_id": "r-new", "creator_id": friend,
        "created_at": now.isoformat(), "text": "a cat on a skateboard", "cameo_user_ids": [],
        "remix_of": None, "duration_s": 4.0, "media_path": "media/r-new/clip.gif",
        "thumbnail_path": "media/r-new/thumbnail.png",
        "embedding": snap.item_vectors[0], "embedding_model": "test"})
    control.execute("COMMIT")
    second = service.page(control, user, limit=20, cursor=None, now=now)
    control.close()
    assert not second.precomputed
    shown = [i.item_id for i in second.items]
    assert "g-new" in shown, shown
    assert second.items[shown.index("g-new")].reason == "from people you follow"


def _copy_home(home: DataHome, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(home.root, target, symlinks=True)
    return target
