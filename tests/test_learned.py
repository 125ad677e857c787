"""The learned collaborative stage in the served feed: the nightly job fits it on a choice-only
log, the snapshot carries its lists, the `learned` source proposes them and the collaborative
scorer orders by them; `reelrank benchmark` compares it with tuned peers on a temporal split
without letting a test row reach any choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cli.main import main
from ranking.scorers.collaborative import _learned_first
from ranking.snapshot.learned import learned_arrays, rank_score
from reelrank.home import DataHome

START = datetime(2025, 1, 1, tzinfo=UTC)


def _clustered_log(directory: Path, users: int = 160, items: int = 60, seed: int = 3) -> Path:
    """Three taste clusters of items; each user takes mostly items of their own cluster, in
    a random order over 60 days; ratings 1-5."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        cluster = u % 3
        own = [i for i in range(items) if i % 3 == cluster]
        other = [i for i in range(items) if i % 3 != cluster]
        picks = list(rng.choice(own, 12, replace=False)) + list(rng.choice(other, 2,
                                                                           replace=False))
        days = np.sort(rng.uniform(0, 60, len(picks)))
        for item, day in zip(rng.permutation(picks), days, strict=True):
            rows.append((f"u{u}", f"i{item}", (START + timedelta(days=float(day))).isoformat(),
                         int(rng.integers(1, 6))))
    directory.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema=["user_id", "item_id", "timestamp", "rating"],
                 orient="row").write_csv(directory / "log.csv")
    pl.DataFrame({"item_id": [f"i{i}" for i in range(items)],
                  "text": [f"clip {i} of kind {i % 3}" for i in range(items)]}
                 ).write_csv(directory / "items.csv")
    return directory


@pytest.fixture(scope="module")
def learned_home(tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    from cli.runner import run_nightly
    from pipelines.resources import EmbedderResource
    from reelrank.importers import import_interactions

    mp = pytest.MonkeyPatch()
    mp.setenv("REELRANK_LEARNED_GRID", "small")
    mp.setenv("REELRANK_LEARNED_MIN_INTERACTIONS", "100")
    root = tmp_path_factory.mktemp("learned")
    data = _clustered_log(root / "data")
    home = DataHome.open(root / "home")
    import_interactions(home, data / "log.csv", items=data / "items.csv")
    summary = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    yield home
    mp.undo()


def test_the_learned_list_outranks_everything_else_in_its_own_order() -> None:
    rows = np.array([5, 9, 2, 7, 4])
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.8])  # EASE-like scores of the pool
    listed = np.array([7, 2])  # the learned stage: 7 first, then 2
    out = _learned_first(rows, scores, listed, rank_score(np.arange(2)))
    order = rows[np.argsort(-out, kind="stable")]
    assert order.tolist() == [7, 2, 5, 4, 9]  # the list, then the rest by their scores
    assert (out[[3, 2]] > 1).all() and (out[[0, 1, 4]] < 1).all() and (out > 0).all()
    none = _learned_first(rows, scores, np.empty(0, np.int64), np.empty(0, np.float32))
    assert rows[np.argsort(-none, kind="stable")].tolist() == [5, 4, 2, 7, 9]


def test_lists_map_to_snapshot_rows_in_order_and_drop_unknown_items(tmp_path: Path) -> None:
    pl.DataFrame({"user_id": ["b", "a", "a", "a", "z"], "item_id": ["x", "y", "gone", "x", "x"],
                  "rank": [0, 2, 1, 0, 0]}).write_parquet(tmp_path / "lists.parquet")
    arrays = learned_arrays(tmp_path, {"a": 0, "b": 1}, {"x": 0, "y": 1})
    ptr, rows, scores = arrays["learned.ptr"], arrays["learned.rows"], arrays["learned.scores"]
    assert ptr.tolist() == [0, 2, 3]  # "z" is no user of the snapshot
    assert rows[ptr[0]:ptr[1]].tolist() == [0, 1]  # x (rank 0), then y (rank 2); "gone" left
    assert scores[0] == pytest.approx(1.0) and scores[1] == pytest.approx(1 / np.log2(4))
    assert learned_arrays(tmp_path / "none", {}, {}) == {}


def test_a_choice_log_is_served_in_the_learned_stages_order(learned_home: DataHome) -> None:
    from ranking.engine import Engine
    from ranking.snapshot.reader import ServingSnapshot

    meta = json.loads((learned_home.dir("indexes") / "learned" / "meta.json").read_text())
    assert meta["users"] == 160 and meta["chosen"] and meta["report"]["validation"]
    snap = ServingSnapshot.load(learned_home.dir("snapshots") / "latest")
    engine = Engine.load(snap, learned_home.settings)
    assert engine.scorer == "collaborative" and len(snap.learned) == 160
    feeds = pl.read_parquet(learned_home.dir("feeds") / "latest" / "*.parquet")
    lists = pl.read_parquet(learned_home.dir("indexes") / "learned" / "lists.parquet")
    agree = 0
    for user in ("u0", "u1", "u2", "u30", "u31"):
        feed = feeds.filter(pl.col("user_id") == user).sort("position")
        assert "learned" in ",".join(feed["source"].to_list())
        listed = lists.filter(pl.col("user_id") == user).sort("rank")["item_id"].to_list()
        agree += feed["item_id"][0] in listed[:3]
        # Cluster taste: most of the page is of the user's own kind (item number mod 3).
        kind = int(user[1:]) % 3
        own = sum(int(i[1:]) % 3 == kind for i in feed["item_id"].head(10).to_list())
        assert own >= 6, (user, feed["item_id"].to_list())
    assert agree >= 4  # the page opens with the list's best (MMR may swap a close second)


def test_learned_off_leaves_no_lists(learned_home: DataHome, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg

    from pipelines.assets.training import learned_lists
    from pipelines.resources import HomeResource

    monkeypatch.setenv("REELRANK_LEARNED", "off")
    out = dg.materialize([learned_lists], resources={
        "home": HomeResource(path=str(learned_home.root))}, raise_on_error=True)
    assert out.success
    assert not (learned_home.dir("indexes") / "learned").exists()


def test_benchmark_compares_with_peers_and_never_lets_test_rows_choose(
        learned_home: DataHome, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import ranking.models.pipeline as pipeline_module
    from ranking.learned import interactions_of

    seen = {}
    real = pipeline_module.fit_pipeline

    def spy(log, params, seed=0):
        seen["pairs"] = set(zip(log.users.tolist(), log.items.tolist(), strict=True))
        seen["log"] = log
        return real(log, params, seed)

    monkeypatch.setattr(pipeline_module, "fit_pipeline", spy)
    assert main(["benchmark", "--home", str(learned_home.root), "--grid", "small",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["models"]) == {"reelrank", "most_popular", "ease", "als", "bpr",
                                      "itemknn"}
    for m in payload["models"].values():
        assert 0.0 <= m["ndcg@10"] <= 1.0 and 0.0 <= m["recall@50"] <= 1.0
    assert payload["split"]["kind"] == "global"
    # The engine saw the training part only: the last 20% of the log by time never reached it.
    con = learned_home.warehouse(read_only=True)
    try:
        every = interactions_of(con)
    finally:
        con.close()
    log = seen["log"]
    assert len(log) == payload["split"]["train_interactions"] < every.height
    cut = np.quantile(every["ts"].to_numpy(), 0.8)
    assert log.ts.max() <= cut + 1
    # On clustered taste the learned stage beats most-popular by a wide margin.
    models = payload["models"]
    assert models["reelrank"]["ndcg@10"] > 1.2 * models["most_popular"]["ndcg@10"]
    saved = sorted(learned_home.dir("reports").glob("benchmark-*.json"))
    assert saved and json.loads(saved[-1].read_text())["models"] == payload["models"]
    report = (learned_home.dir("reports") / "latest.html").read_text()
    assert 'id="benchmark"' in report and "NDCG@10" in report
