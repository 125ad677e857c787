import numpy as np
import polars as pl
import pytest
from scipy import sparse

from ranking.models import pipeline as pipeline_module
from ranking.models import tuning
from ranking.models.interactions import code_interactions
from ranking.models.stage2 import Stage2Params
from ranking.models.tuning import carve, evaluate
from tests.models.conftest import sequential_log


def _train_test(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ranked = frame.sort(["user_id", "ts"]).with_columns(
        pl.int_range(pl.len()).over("user_id").alias("i"), pl.len().over("user_id").alias("n"))
    test = ranked.filter(pl.col("i") >= pl.col("n") - 3).drop("i", "n")
    return ranked.filter(pl.col("i") < pl.col("n") - 3).drop("i", "n"), test


@pytest.mark.parametrize("protocol", ["per_user", "global"])
def test_validation_is_cut_from_training_rows_only(protocol):
    train, test = _train_test(sequential_log(n_users=50))
    log = code_interactions(train)
    split = carve(log, protocol, 0.2, seed=3)
    held = log.take(split.held_rows)
    held_pairs = set(zip(log.user_ids[held.users].tolist(), log.item_ids[held.items].tolist()))
    test_pairs = set(zip(test["user_id"].to_list(), test["item_id"].to_list()))
    train_pairs = set(zip(train["user_id"].to_list(), train["item_id"].to_list()))
    assert held_pairs and held_pairs <= train_pairs
    assert not held_pairs & (test_pairs - train_pairs)
    # the fit part never holds what validation asks for
    assert split.truth.multiply(split.fit.matrix).nnz == 0


def test_per_user_carve_holds_each_users_last_fifth():
    log = code_interactions(sequential_log(n_users=3, length=10))
    split = carve(log, "per_user", 0.2)
    assert split.held_rows.reshape(3, 10)[:, -2:].all()
    assert not split.held_rows.reshape(3, 10)[:, :-2].any()


def test_test_rows_never_reach_model_selection(monkeypatch):
    """A spy on every validation scoring in the pipeline: the truth it is asked to find must
    come from the training rows, never from the test rows."""
    train, test = _train_test(sequential_log(n_users=60, n_items=30, length=12))
    log = code_interactions(train)
    test_pairs = set(zip(test["user_id"].to_list(), test["item_id"].to_list()))
    seen_truth = []
    real = tuning.evaluate

    def spy(top, truth, users, ks=(10, 50)):
        coo = truth.tocoo()
        seen_truth.extend(zip(log.user_ids[coo.row].tolist(), log.item_ids[coo.col].tolist()))
        return real(top, truth, users, ks)

    monkeypatch.setattr(tuning, "evaluate", spy)
    monkeypatch.setattr(pipeline_module, "evaluate", spy)
    params = pipeline_module.PipelineParams(
        protocol="per_user", ease_scales=(1.0,), als_factors=(4,), als_regs=(0.1,),
        knn_ks=(10,), half_lives=(2.0,), trend_shares=(0.1,), cooc_windows=(3,),
        use_sequence=False, stage2=Stage2Params(max_rounds=20))
    pipeline_module.fit_pipeline(log, params, seed=0)
    assert seen_truth
    train_pairs = set(zip(train["user_id"].to_list(), train["item_id"].to_list()))
    assert set(seen_truth) <= train_pairs
    assert not set(seen_truth) & (test_pairs - train_pairs)


def test_metrics_by_hand():
    truth = sparse.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]], dtype=np.float32))
    top = np.array([[2, 1, 3, 0], [0, 3, 2, 1]])
    m = evaluate(top, truth, np.array([0, 1]), ks=(2, 4))
    ndcg0 = (1 + 1 / np.log2(5)) / (1 + 1 / np.log2(3))  # hits at ranks 1 and 4 of 2
    ndcg1 = (1 / np.log2(5)) / 1.0  # hit at rank 4
    assert m["ndcg@10"] == pytest.approx((ndcg0 + ndcg1) / 2)
    assert m["recall@2"] == pytest.approx((0.5 + 0) / 2)
    assert m["recall@4"] == pytest.approx(1.0)
