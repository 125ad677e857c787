"""The nightly batch scorer and publishing, on a small synthetic world run end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.snapshot import serving_as_of
from pipelines.resources import EmbedderResource
from pipelines.runner import run_nightly
from ranking.context import RankContext
from ranking.filters.consent import live_grants
from ranking.pipeline import Retrieval, rank_users
from ranking.publish import latest, publish_run
from ranking.training import current_ranker
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

FAST = EmbedderResource(backend="hashing")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    home = DataHome.open(tmp_path_factory.mktemp("score") / "home")
    summary = run_nightly(home, users=500, days=9, seed=5, embedder=FAST)
    assert summary.success, summary.render()
    return home


def test_every_source_contributes(home: DataHome) -> None:
    sources = set(_feeds(home)["source"].str.split(",").explode())
    assert sources == {"similar", "collaborative", "graph", "trending", "fresh"}


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
    assert feeds.join(engaged, on=["user_id", "item_id"], how="semi").is_empty()
    assert set(with_history["user_id"]) == set(feeds["user_id"])
    labelled = feeds.join(items, on="item_id")
    assert (labelled["safety_label"] != "unsafe").all()
    cap = labelled.group_by("user_id", "creator_id").len()["len"].max()
    assert cap <= home.settings.per_creator_cap


def test_batch_and_single_user_ranking_give_the_same_page(home: DataHome) -> None:
    feeds = _feeds(home)
    user = feeds["user_id"].sort()[0]
    con = home.warehouse()
    control = home.control()
    try:
        ctx = RankContext(con, home.settings, serving_as_of(con), pl.Series("user_id", [user]))
        single = rank_users(ctx, ranker=current_ranker(home.dir("models")),
                            retrieval=Retrieval.load(home.dir("indexes")),
                            grants=live_grants(control)).feeds
    finally:
        con.close()
        control.close()
    batch = feeds.filter(pl.col("user_id") == user).sort("position")
    assert_frame_equal(single.sort("position"), batch, check_dtypes=False)


def test_a_revoked_cameo_is_never_ranked(home: DataHome) -> None:
    """Consent is read from the live control store at ranking time."""
    feeds = _feeds(home)
    con = home.warehouse()
    items = con.sql("SELECT item_id, creator_id, cameo_user_ids FROM items "
                    "WHERE len(cameo_user_ids) > 0").pl()
    cameo = feeds.join(items, on="item_id").explode("cameo_user_ids").filter(
        pl.col("cameo_user_ids") != pl.col("creator_id"))
    assert not cameo.is_empty(), "the world should serve some friends' cameos"
    victim = cameo.row(0, named=True)
    control = home.control()
    control.execute("UPDATE cameo_grants SET revoked_at = '2099-01-01T00:00:00.000000Z', "
                    "updated_at = '2099-01-01T00:00:00.000000Z' WHERE owner_id = ? AND "
                    "grantee_id = ?", [victim["cameo_user_ids"], victim["creator_id"]])
    try:
        ctx = RankContext(con, home.settings, serving_as_of(con),
                          pl.Series("user_id", [victim["user_id"]]))
        out = rank_users(ctx, ranker=current_ranker(home.dir("models")),
                         retrieval=Retrieval(), grants=live_grants(control))
        assert victim["item_id"] not in out.feeds["item_id"].to_list()
        assert out.removed["cameo_consent"] >= 1
    finally:
        control.execute("UPDATE cameo_grants SET revoked_at = NULL WHERE owner_id = ? AND "
                        "grantee_id = ?", [victim["cameo_user_ids"], victim["creator_id"]])
        control.close()
        con.close()


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
