"""The ranker and offline evaluation on a small synthetic world, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cli.runner import run_nightly
from pipelines.resources import EmbedderResource
from ranking.evaluate import evaluate, temporal_split
from ranking.ranker import RankerParams, TrainedRanker, train_ranker
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

FAST = EmbedderResource(backend="hashing")


@pytest.fixture(scope="module")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    home = DataHome.open(tmp_path_factory.mktemp("eval") / "home")
    summary = run_nightly(home, users=600, days=10, seed=11, embedder=FAST)
    assert summary.success
    return home


def test_temporal_split_is_ordered_and_half_open() -> None:
    from datetime import date, timedelta

    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(10)]
    split = temporal_split(days, test_days=2, valid_days=2)
    assert split.train == (date(2026, 1, 2), date(2026, 1, 7))
    assert split.valid == (date(2026, 1, 7), date(2026, 1, 9))
    assert split.test == (date(2026, 1, 9), date(2026, 1, 11))
    with pytest.raises(ReelrankError, match="at least 7 days"):
        temporal_split(days[:5], test_days=2, valid_days=2)


def test_the_ranker_beats_baselines_and_tracks_the_oracle(world_home: DataHome) -> None:
    world = next(world_home.dir("worlds").iterdir())
    con = world_home.warehouse()
    try:
        report = evaluate(con, world_home.settings, world=world)
    finally:
        con.close()
    models = report.models
    ndcg = {name: m["ndcg@10"] for name, m in models.items() if "ndcg@10" in m}
    assert set(ndcg) == {"ranker", "most_popular", "regional_popular", "content_only",
                         "retrieval_only", "oracle"}
    for baseline in ("most_popular", "regional_popular", "content_only", "retrieval_only"):
        assert ndcg["ranker"] > ndcg[baseline], (baseline, ndcg)
    assert ndcg["ranker"] >= 0.9 * ndcg["oracle"], ndcg
    assert 0 < models["ranker"]["recall@50"] <= models["candidate_pool"]["recall@50"]
    assert report.as_json()["k"] == 10


def test_training_is_deterministic_and_the_artifact_round_trips(world_home: DataHome,
                                                                tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 2_000
    frame = pl.DataFrame({
        "user_id": rng.integers(0, 100, n), "as_of": [None] * n, "item_id": np.arange(n),
        "x": rng.normal(size=n), "noise": rng.normal(size=n),
    }).with_columns(pl.lit("2026-01-01").str.to_date().alias("as_of"))
    frame = frame.with_columns(label=(pl.col("x") > 0.5).cast(pl.Int32) * 2
                               + (pl.col("x") > 1.5).cast(pl.Int32))
    train, valid = frame.filter(pl.col("user_id") < 80), frame.filter(pl.col("user_id") >= 80)
    params = RankerParams(max_rounds=30, min_data_in_leaf=5)
    a, b = train_ranker(train, valid, params), train_ranker(train, valid, params)
    assert np.array_equal(a.score(valid), b.score(valid))
    assert a.features == ("x", "noise")
    loaded = TrainedRanker.load(a.save(tmp_path / "ranker"))
    assert np.array_equal(loaded.score(valid), a.score(valid))
    with pytest.raises(ReelrankError, match="lacks ranker features"):
        a.score(valid.drop("noise"))


def test_evaluate_json_from_the_command_line(world_home: DataHome) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [str(Path(sys.executable).parent / "reelrank"), "evaluate", "--home",
         str(world_home.root), "--json"], check=False, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["k"] == 10
    assert {"ranker", "oracle", "most_popular"} <= set(out["models"])
    assert set(out["models"]["ranker"]) >= {"ndcg@10", "recall@50"}
