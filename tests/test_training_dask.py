"""Training the ranker on Dask (`REELRANK_TRAINING_BACKEND=dask`): LightGBM's Dask estimator
on a real `distributed.LocalCluster` of 2 worker processes, from the same point-in-time
frames, scores within a stated tolerance of the single-machine ranker on the same
validation days; partitions never split a query group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.snapshot import serving_as_of
from ranking.ranker_dask import user_partitions
from ranking.training import train_candidate
from reelrank.home import DataHome

# NDCG@10 on the validation days: the two fits see the same rows and parameters but not
# the same histogram bins and row order (data-parallel LightGBM), so they differ a little.
TOLERANCE = 0.03


@given(st.lists(st.integers(0, 30), min_size=1, max_size=400), st.integers(1, 12))
def test_partitions_cut_only_between_users(users: list[int], parts: int) -> None:
    ordered = np.sort(np.array(users))
    sizes = user_partitions(ordered, parts)
    assert sum(sizes) == len(ordered) and all(s > 0 for s in sizes) and len(sizes) <= parts
    edges = np.cumsum(sizes)[:-1]
    assert all(ordered[e - 1] != ordered[e] for e in edges)


@pytest.mark.slow
def test_a_dask_trained_ranker_scores_like_the_single_machine_one(
        scored_home: DataHome, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    single_settings = scored_home.settings
    dask_settings = single_settings.model_copy(update={
        "training_backend": "dask", "dask_scheduler": "local", "dask_local_workers": 2})
    with scored_home.writing(timeout_s=120) as con:
        as_of = serving_as_of(con)
        single = train_candidate(con, single_settings, tmp_path / "single", as_of)
        dask = train_candidate(con, dask_settings, tmp_path / "dask", as_of)
    assert dask.ranker.metrics["dask_workers"] == 2
    assert dask.ranker.features == single.ranker.features
    assert dask.ndcg == pytest.approx(single.ndcg, abs=TOLERANCE), (dask.ndcg, single.ndcg)
    # It is a real ranker: better than no ranking at all on the same rows.
    assert dask.ndcg > 0.1
