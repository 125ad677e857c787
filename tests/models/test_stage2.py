import numpy as np
import polars as pl

from ranking.models._base import BlockScorer
from ranking.models.interactions import code_interactions
from ranking.models.pipeline import Pipeline, PipelineParams, fit_pipeline
from ranking.models.sequence import SequenceParams
from ranking.models.stage2 import Candidates, Stage2Params, features, pool, rank_candidates
from tests.models.conftest import sequential_log


class _Fixed(BlockScorer):
    kind = "fixed"

    def __init__(self, scores, seen):
        self.scores, self.seen = np.asarray(scores, np.float32), seen

    def score_block(self, users):
        return self.scores[users]


def test_pool_is_the_union_with_each_sources_rank():
    log = code_interactions(pl.DataFrame({"user_id": [0, 1, 2, 2], "item_id": [0, 1, 2, 3],
                                          "ts": [0, 0, 0, 0]}))
    # 4 items; user 0 holds item 0, user 1 holds item 1 (never proposed to them)
    a = _Fixed([[9, 3, 2, 1], [9, 9, 1, 2], [0, 0, 0, 0]], log.matrix)
    b = _Fixed([[0, 1, 5, 4], [3, 0, 2, 1], [0, 0, 0, 0]], log.matrix)
    cands = pool({"a": a, "b": b}, np.array([0, 1]), 2, 4)
    assert list(zip(cands.users.tolist(), cands.items.tolist())) == [
        (0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)]
    assert cands.ranks["a"].tolist() == [1, 2, 3, 1, 3, 2]  # 3 = not proposed
    assert cands.ranks["b"].tolist() == [3, 1, 2, 1, 2, 3]
    x, names = features(cands, {"a": a, "b": b}, log, np.zeros(3))
    assert x.shape == (6, len(names)) and names[:4] == ["a_score", "a_rank", "b_score", "b_rank"]
    assert x[:, 0].tolist() == [3, 2, 1, 9, 1, 2]


def test_rank_candidates_orders_within_each_user():
    cands = Candidates(np.array([0, 0, 0, 1]), np.array([5, 6, 7, 8]), {})
    top = rank_candidates(cands, np.array([0.1, 0.9, 0.5, 0.0]), 2)
    assert top.tolist() == [[6, 7], [8, -1]]
    # rows follow the users asked for, one without candidates included
    top = rank_candidates(cands, np.array([0.1, 0.9, 0.5, 0.0]), 2, np.array([1, 4, 0]))
    assert top.tolist() == [[8, -1], [-1, -1], [6, 7]]


def test_pool_never_proposes_what_the_user_holds():
    log = code_interactions(pl.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 2],
                                          "ts": [0, 0, 0]}))
    a = _Fixed([[5, 4, 3], [1, 2, 3]], log.matrix)
    cands = pool({"a": a}, np.array([0]), 3, 3)  # user 0 holds 2 of 3 items
    assert cands.items.tolist() == [2]


def _tiny_params(**kw):
    return PipelineParams(protocol="per_user", ease_scales=(1.0,), als_factors=(4,),
                          als_regs=(0.1,), knn_ks=(10,), half_lives=(2.0,),
                          trend_shares=(0.1,), cooc_windows=(3,),
                          stage2=Stage2Params(max_rounds=16), **kw)


def test_pipeline_without_order_leaves_order_aware_models_out():
    log = code_interactions(sequential_log(n_users=60, n_items=20, length=8, bunch=True))
    pipe = fit_pipeline(log, _tiny_params(), seed=0)
    assert not pipe.report["order"]["has_order"]
    assert not {"sequence", "cooc", "itemknn_recent", "ease_recent"} & set(pipe.sources)
    top = pipe.recommend(np.arange(5), 5)
    assert top.shape == (5, 5)
    for u in range(5):
        held = set(log.matrix[u].indices)
        assert not held & set(top[u][top[u] >= 0].tolist())


def test_pipeline_with_order_uses_the_sequence_signals_and_survives_save(tmp_path):
    log = code_interactions(sequential_log(n_users=80, n_items=30, length=10))
    pipe = fit_pipeline(log, _tiny_params(
        sequence=SequenceParams(max_len=8, dim=16, layers=1, epochs=2)), seed=0)
    assert pipe.report["order"]["has_order"]
    assert {"cooc", "itemknn_recent", "ease_recent", "sequence"} <= set(pipe.sources)
    again = Pipeline.load(pipe.save(tmp_path / "pipe"))
    users = np.arange(log.n_users)
    np.testing.assert_array_equal(again.recommend(users, 5), pipe.recommend(users, 5))
