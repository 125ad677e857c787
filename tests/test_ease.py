"""EASE, the item-item model small catalogs get, and the MovieLens comparison it wins."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ranking.ease import EaseModel, fit_ease
from reelrank.errors import ReelrankError

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"


def _pairs() -> pl.DataFrame:
    # a, b and c are watched together; d and e together; u5 has only watched a.
    rows = [("u1", "a"), ("u1", "b"), ("u1", "c"), ("u2", "a"), ("u2", "b"), ("u3", "b"),
            ("u3", "c"), ("u4", "d"), ("u4", "e"), ("u5", "a"), ("u2", "a")]
    return pl.DataFrame(rows, schema=["user_id", "item_id"], orient="row")


def test_ease_scores_co_watched_items_first_and_never_the_item_itself() -> None:
    model = fit_ease(_pairs(), lam=0.5)
    ids = model.item_ids.to_list()
    assert ids == ["a", "b", "c", "d", "e"]
    assert np.allclose(np.diag(model.weights), 0)
    scores = model.weights[ids.index("a")]  # someone who watched only "a"
    ranked = [ids[j] for j in np.argsort(-scores)]
    assert ranked[0] == "b"  # watched with "a" by two of its three viewers
    assert scores[ids.index("a")] == 0  # the zero diagonal: never recommends itself
    assert max(scores[ids.index("d")], scores[ids.index("e")]) < scores[ids.index("b")]


def test_ease_round_trips_and_refuses_a_damaged_file(tmp_path: Path) -> None:
    model = fit_ease(_pairs(), lam=1.0)
    path = model.save(tmp_path / "ease")
    again = EaseModel.load(path)
    assert again.item_ids.to_list() == model.item_ids.to_list()
    np.testing.assert_array_equal(again.weights, model.weights)
    weights = path / "weights.npy"
    weights.write_bytes(weights.read_bytes()[:-4])
    with pytest.raises(ReelrankError, match="weights.npy"):
        EaseModel.load(path)


@pytest.mark.skipif(not ML100K.is_dir(), reason="../shared/data/movielens-100k not present")
def test_on_movielens_the_engines_feeds_beat_most_popular_and_als(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's comparison, end to end: import, nightly run, feeds/latest, NDCG@10.
    The learned stage on its small grid here (a minute, not four); the README's figure is
    the full grid's."""
    monkeypatch.setenv("REELRANK_LEARNED_GRID", "small")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import movielens_compare as mc
    finally:
        sys.path.pop(0)
    from implicit.als import AlternatingLeastSquares

    train, test, items = mc.split(ML100K)
    ours = mc.metrics(mc.engine_top(train, items, tmp_path), test)["ndcg@10"]
    als = mc.metrics(mc.implicit_top(AlternatingLeastSquares(
        factors=64, regularization=0.05, iterations=20, random_state=7), train), test)
    popular = mc.metrics(mc.popular_top(train), test)["ndcg@10"]
    assert ours > 1.15 * als["ndcg@10"] and ours > 1.8 * popular, (ours, als, popular)
