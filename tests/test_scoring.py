"""The nightly batch scorer and publishing, on a small synthetic world run end to end."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.snapshot import serving_as_of
from ranking.engine import Engine
from ranking.policy import read_live
from ranking.publish import latest, publish_run
from ranking.snapshot.reader import ServingSnapshot
from reelrank.errors import ReelrankError
from reelrank.home import DataHome


@pytest.fixture(scope="module")
def home(scored_home: DataHome) -> DataHome:
    return scored_home


def test_every_source_contributes(home: DataHome) -> None:
    sources = set(_feeds(home)["source"].str.split(",").explode())
    # catalog: the backfill, which a 240-item world needs for users with short pools
    assert sources == {"similar", "collaborative", "graph", "trending", "fresh", "catalog"}


def _feeds(home: DataHome) -> pl.DataFrame:
    return pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")


def test_latest_feeds_follow_the_contract(home: DataHome) -> None:
    feeds = _feeds(home)
    assert feeds.columns == ["user_id", "position", "item_id", "score", "source"]
    per_user = feeds.group_by("user_id").agg(pl.col("position").min().alias("first"),
                                             pl.col("position").max().alias("last"),
                                             pl.len().alias("n"))
    assert (per_user["first"] == 1).all() and (per_user["last"] == per_user["n"]).all()
    assert per_user["n"].max() <= home.settings.feed_length
    con = home.warehouse()
    engaged = con.sql("SELECT DISTINCT user_id, item_id FROM engagement_daily").pl()
    with_history = con.sql("SELECT DISTINCT user_id FROM engagement_daily").pl()
    items = con.sql("SELECT item_id, creator_id, safety_label FROM items").pl()
    con.close()
    # A supervised account with personalization off gets a page that must not depend on
    # its history at all, so nothing is removed for having been seen (hard rule 2).
    control = home.control()
    unpersonal = [r[0] for r in control.execute(
        "SELECT child_id FROM guardians WHERE personalization = 0").fetchall()]
    control.close()
    personal = feeds.filter(~pl.col("user_id").is_in(unpersonal))
    assert personal.join(engaged, on=["user_id", "item_id"], how="semi").is_empty()
    assert set(with_history["user_id"]) == set(feeds["user_id"])
    labelled = feeds.join(items, on="item_id")
    assert (labelled["safety_label"] != "unsafe").all()
    cap = labelled.group_by("user_id", "creator_id").len()["len"].max()
    assert cap <= home.settings.per_creator_cap


def _engine(home: DataHome) -> Engine:
    snap = ServingSnapshot.load(home.dir("snapshots") / "latest")
    return Engine.load(snap, home.settings)


def _rank_one(home: DataHome, engine: Engine, user: object) -> pl.DataFrame:
    control = home.control()
    try:
        out = engine.rank([user], read_live(control, [user], date.today()))
    finally:
        control.close()
    return out, out.frame(pl.String, engine.snap.item_ids.dtype)


def test_batch_and_single_user_ranking_give_the_same_page(home: DataHome) -> None:
    feeds = _feeds(home)
    engine = _engine(home)
    for user in feeds["user_id"].unique().sort()[:5]:
        _out, single = _rank_one(home, engine, user)
        batch = feeds.filter(pl.col("user_id") == user).sort("position")
        assert_frame_equal(single, batch, check_dtypes=False)


def test_a_revoked_cameo_is_never_ranked(home: DataHome) -> None:
    """Consent is read from the live control store at ranking time."""
    feeds = _feeds(home)
    con = home.warehouse()
    items = con.sql("SELECT item_id, creator_id, cameo_user_ids FROM items "
                    "WHERE len(cameo_user_ids) > 0").pl()
    con.close()
    cameo = feeds.join(items, on="item_id").explode("cameo_user_ids").filter(
        pl.col("cameo_user_ids") != pl.col("creator_id"))
    assert not cameo.is_empty(), "the world should serve some friends' cameos"
    victim = cameo.row(0, named=True)
    engine = _engine(home)
    control = home.control()
    control.execute("UPDATE cameo_grants SET revoked_at = '2099-01-01T00:00:00.000000Z', "
                    "updated_at = '2099-01-01T00:00:00.000000Z' WHERE owner_id = ? AND "
                    "grantee_id = ?", [victim["cameo_user_ids"], victim["creator_id"]])
    try:
        out, page = _rank_one(home, engine, victim["user_id"])
        assert victim["item_id"] not in page["item_id"].to_list()
        assert out.removed["cameo_consent"] >= 1
    finally:
        control.execute("UPDATE cameo_grants SET revoked_at = NULL WHERE owner_id = ? AND "
                        "grantee_id = ?", [victim["cameo_user_ids"], victim["creator_id"]])
        control.close()
    _out, page = _rank_one(home, engine, victim["user_id"])
    assert victim["item_id"] in page["item_id"].to_list()


def test_a_broken_run_is_not_published_and_the_last_good_one_stays(home: DataHome,
                                                                   tmp_path: Path) -> None:
    live = latest(home.dir("feeds"))
    assert live is not None
    broken = home.dir("feeds") / "broken-run"
    broken.mkdir()
    shutil.copy(next(live.glob("part-*.parquet")), broken / "part-0000.parquet")
    (broken / "part-0001.parquet").write_bytes(b"half-written")
    with pytest.raises(ReelrankError, match="not readable"):
        publish_run(home.dir("feeds"), broken, expected_parts=2, manifest={})
    with pytest.raises(ReelrankError, match="expected 4 feed parts"):
        publish_run(home.dir("feeds"), broken, expected_parts=4, manifest={})
    assert latest(home.dir("feeds")) == live


def test_a_worse_ranker_is_not_promoted(home: DataHome) -> None:
    from ranking.ranker import RankerParams
    from ranking.training import should_promote, train_candidate

    assert should_promote(0.80, None, 0.005)
    assert should_promote(0.797, 0.80, 0.005)
    assert not should_promote(0.79, 0.80, 0.005)
    assert not should_promote(float("nan"), 0.80, 0.005)
    con = home.warehouse()
    try:
        weak = train_candidate(con, home.settings, home.dir("models"), serving_as_of(con),
                               RankerParams(max_rounds=1, num_leaves=2, early_stopping_rounds=1))
    finally:
        con.close()
    assert weak.current_ndcg is not None and weak.ndcg < weak.current_ndcg
    assert not should_promote(weak.ndcg, weak.current_ndcg, home.settings.promotion_tolerance)
