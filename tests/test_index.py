"""ItemIndex (exact and HNSW), its on-disk format, and collaborative vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ranking.collaborative import collaborative_vectors
from ranking.index import IndexParams, ItemIndex
from ranking.retrieval import recall_against_exact
from reelrank.errors import ReelrankError

EXACT = IndexParams()
# 100 vectors with exact_below=50 forces the HNSW path; a small ef_search proves k wins.
HNSW = IndexParams(exact_below=50, hnsw_m=16, ef_construction=40, ef_search=8)


def unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    return unit(centres[rng.integers(0, clusters, n)] + 0.3 * rng.normal(size=(n, dim)))


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(100, 16, 5, seed=1)


def test_params_are_bounded() -> None:
    for bad in ({"hnsw_m": 2}, {"threads": 0}, {"ef_search": 0}, {"exact_below": -1},
                {"hnsw_m": 64, "ef_construction": 32}, {"threads": True}):
        with pytest.raises(ValueError, match="IndexParams"):
            IndexParams(**bad)


def test_exact_search_matches_brute_force(vectors: np.ndarray) -> None:
    ids = [1000 + i for i in range(len(vectors))]
    before = vectors.copy()
    index = ItemIndex.build(ids, vectors, EXACT)
    queries = clustered(7, 16, 5, seed=2)
    found, scores = index.search(queries, 10)
    np.testing.assert_array_equal(vectors, before)  # inputs are never modified
    brute = queries @ vectors.T
    expected = np.argsort(-brute, axis=1, kind="stable")[:, :10]
    assert index.kind == "exact"
    assert found == [[ids[j] for j in row] for row in expected]
    np.testing.assert_allclose(scores, np.take_along_axis(brute, expected, axis=1), rtol=1e-5)


def test_hnsw_returns_k_without_padding_and_high_recall(vectors: np.ndarray) -> None:
    ids = list(range(len(vectors)))
    index = ItemIndex.build(ids, vectors, HNSW)
    exact = ItemIndex.build(ids, vectors, EXACT)
    queries = clustered(20, 16, 5, seed=3)
    # k > ef_search: with efSearch left at 8 this recall is ~0.8 (and FAISS may pad with -1).
    found, scores = index.search(queries, 30)
    assert index.kind == "hnsw"
    assert all(len(row) == 30 and -1 not in row for row in found)
    assert not np.isnan(scores).any()
    assert recall_against_exact(index, queries, 30, exact) >= 0.9
    assert recall_against_exact(exact, queries, 30, exact) == 1.0


def test_k_beyond_count_returns_everything_once(vectors: np.ndarray) -> None:
    for params in (EXACT, HNSW):
        found, scores = ItemIndex.build(range(100), vectors, params).search(vectors[:2], 500)
        assert scores.shape == (2, 100)
        assert [sorted(row) for row in found] == [list(range(100))] * 2


@pytest.mark.parametrize("ids", [
    [f"video-{i}" for i in range(100)],
    list(range(5, 105)),
    np.arange(5, 105, dtype=np.int32),
    pl.Series(range(5, 105), dtype=pl.UInt16),
])
def test_ids_keep_their_python_type(vectors: np.ndarray, ids: object) -> None:
    want = str if isinstance(ids, list) and isinstance(ids[0], str) else int
    for params in (EXACT, HNSW):
        found, _ = ItemIndex.build(ids, vectors, params).search(vectors[:3], 5)
        assert all(type(item) is want for row in found for item in row)


def test_exclude_drops_ids_and_still_fills_k(vectors: np.ndarray) -> None:
    index = ItemIndex.build([f"v{i}" for i in range(100)], vectors, EXACT)
    top, _ = index.search(vectors[:2], 5)
    found, scores = index.search(vectors[:2], 5, exclude=[top[0][:3], []])
    assert found[0][:2] == top[0][3:] and len(found[0]) == 5
    assert not set(found[0]) & set(top[0][:3])
    assert found[1] == top[1] and not np.isnan(scores).any()


def test_bad_input_is_refused_early(vectors: np.ndarray) -> None:
    with pytest.raises(ValueError, match="L2-normalised"):
        ItemIndex.build(range(100), vectors * 2, EXACT)
    with pytest.raises(ValueError, match="unique"):
        ItemIndex.build([1] * 100, vectors, EXACT)
    with pytest.raises(ValueError, match="all int or all str"):
        ItemIndex.build([1, "a"], vectors[:2], EXACT)
    with pytest.raises(ValueError, match="2 item ids but 100"):
        ItemIndex.build([1, 2], vectors, EXACT)
    index = ItemIndex.build(range(100), vectors, EXACT)
    with pytest.raises(ValueError, match=r"shape \(m, 16\)"):
        index.search(vectors[:, :8], 3)
    with pytest.raises(ValueError, match="k must be"):
        index.search(vectors[:1], 0)


@pytest.mark.parametrize("params", [EXACT, HNSW], ids=["exact", "hnsw"])
def test_save_load_round_trip(tmp_path: Path, vectors: np.ndarray, params: IndexParams) -> None:
    index = ItemIndex.build([f"v{i}" for i in range(100)], vectors, params)
    index.save(tmp_path / "ix")
    index.save(tmp_path / "ix")  # replacing a previous index leaves no debris
    loaded = ItemIndex.load(tmp_path / "ix")
    assert [p.name for p in tmp_path.iterdir()] == ["ix"]
    assert (loaded.kind, loaded.dim, loaded.count, loaded.params) == (
        index.kind, 16, 100, params)
    queries = clustered(10, 16, 5, seed=4)
    found, scores = index.search(queries, 20)
    again, again_scores = loaded.search(queries, 20)
    assert again == found
    np.testing.assert_array_equal(again_scores, scores)
    tuned = ItemIndex.load(tmp_path / "ix", IndexParams(ef_search=64, threads=1, exact_below=7))
    assert (tuned.params.ef_search, tuned.params.threads, tuned.params.exact_below) == (
        64, 1, params.exact_below)


@pytest.mark.parametrize("damage", ["no-meta", "no-index", "truncated", "ids-swapped",
                                    "meta-count", "meta-garbage"])
def test_damaged_index_is_refused_naming_the_file(tmp_path: Path, vectors: np.ndarray,
                                                  damage: str) -> None:
    root = ItemIndex.build(range(100), vectors, HNSW).save(tmp_path / "ix")
    other = ItemIndex.build(range(1, 101), vectors, HNSW).save(tmp_path / "other")
    meta = json.loads((root / "meta.json").read_text())
    if damage == "no-meta":
        (root / "meta.json").unlink()
        culprit = "meta.json"
    elif damage == "no-index":
        (root / "index.faiss").unlink()
        culprit = "index.faiss"
    elif damage == "truncated":
        data = (root / "index.faiss").read_bytes()
        (root / "index.faiss").write_bytes(data[: len(data) // 2])
        culprit = "index.faiss"
    elif damage == "ids-swapped":
        (root / "ids.parquet").write_bytes((other / "ids.parquet").read_bytes())
        culprit = "ids.parquet"
    elif damage == "meta-count":
        meta["count"] = 99
        (root / "meta.json").write_text(json.dumps(meta))
        culprit = "index.faiss"
    else:
        (root / "meta.json").write_text('{"format": 1, "kind": "exa')
        culprit = "meta.json"
    with pytest.raises(ReelrankError, match=culprit):
        ItemIndex.load(root)


def test_save_refuses_to_replace_something_else(tmp_path: Path, vectors: np.ndarray) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "warehouse.duckdb").write_text("precious")
    with pytest.raises(ReelrankError, match="not an item index"):
        ItemIndex.build(range(100), vectors, EXACT).save(tmp_path / "home")
    assert (tmp_path / "home" / "warehouse.duckdb").read_text() == "precious"


def co_engagement(seed: int) -> pl.DataFrame:
    """Users 0-19 engage with items a0-a9, users 20-39 with b0-b9 (each ~60% of them);
    users 40 and 41 share one history exactly. Weights vary; one pair repeats."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(40):
        group = "a" if user < 20 else "b"
        for item in range(10):
            if rng.random() < 0.6:
                rows.append((user, f"{group}{item}", float(rng.integers(1, 4))))
    for user in (40, 41):
        rows += [(user, "a1", 2.0), (user, "a2", 1.0), (user, "a3", 3.0)]
    rows += [(0, "a0", 1.0), (0, "a9", -5.0), (0, "a9", 1.0)]  # a9 for user 0 nets <= 0
    return pl.DataFrame(rows, schema={"user_id": pl.Int64, "item_id": pl.String,
                                      "weight": pl.Float64}, orient="row")


def test_collaborative_vectors_capture_co_engagement() -> None:
    result = collaborative_vectors(co_engagement(0), dim=8, seed=3)
    assert result.item_vectors.shape == (20, 8) and result.user_vectors.shape == (42, 8)
    assert result.item_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.item_vectors, axis=1), 1, atol=1e-5)
    assert all(type(u) is int for u in result.user_ids)
    assert all(type(i) is str for i in result.item_ids)
    twins = result.user_vectors[[result.user_ids.index(40), result.user_ids.index(41)]]
    assert float(twins[0] @ twins[1]) > 0.9999
    index = ItemIndex.build(result.item_ids, result.item_vectors, EXACT)
    neighbours, _ = index.search(result.item_vectors, 6)
    for item, row in zip(result.item_ids, neighbours, strict=True):
        assert row[0] == item
        assert {other[0] for other in row[1:]} == {item[0]}, (item, row)


def test_collaborative_vectors_are_deterministic_and_shrink_dim() -> None:
    frame = co_engagement(1)
    first = collaborative_vectors(frame, dim=8, seed=11)
    again = collaborative_vectors(frame.sample(fraction=1.0, shuffle=True, seed=5), 8, seed=11)
    for a, b in zip(first, again, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, atol=1e-6)
        else:
            assert a == b
    small = collaborative_vectors(frame.filter(pl.col("item_id").is_in(["a1", "a2", "a3"])),
                                  dim=8, seed=11)
    assert small.item_vectors.shape[1] <= 3 and small.item_ids == ["a1", "a2", "a3"]
    empty = collaborative_vectors(frame.filter(pl.col("weight") < 0), dim=8, seed=11)
    assert empty.item_ids == [] and empty.item_vectors.shape == (0, 8)
    with pytest.raises(ValueError, match="lacks column"):
        collaborative_vectors(frame.drop("weight"), dim=8, seed=11)
