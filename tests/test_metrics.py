"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ranking.metrics import coverage, ndcg_at_k, novelty, recall_at_k


def test_ndcg_by_hand() -> None:
    frame = pl.DataFrame({
        "q": [1, 1, 1, 2, 2, 3, 3],
        "item_id": ["a", "b", "c", "a", "b", "a", "b"],
        "label": [0, 2, 1, 1, 0, 0, 0],          # q3 has nothing relevant: left out
        "score": [0.9, 0.5, 0.1, 0.2, 0.8, 0.5, 0.4],
    })
    # q1 ranks a(0), b(2), c(1): DCG = 3/log2(3) + 1/log2(4); ideal b, c: 3 + 1/log2(3).
    q1 = (3 / math.log2(3) + 1 / 2) / (3 + 1 / math.log2(3))
    # q2 ranks b(0), a(1): DCG = 1/log2(3); ideal 1.
    q2 = 1 / math.log2(3)
    assert ndcg_at_k(frame, 10, group=["q"], score="score", label="label") == pytest.approx(
        (q1 + q2) / 2)
    # At k=1 only the top item counts.
    assert ndcg_at_k(frame, 1, group=["q"], score="score", label="label") == pytest.approx(0.0)


def test_ties_break_by_item_id_not_input_order() -> None:
    a = pl.DataFrame({"q": [1, 1], "item_id": ["x", "y"], "label": [1, 0], "score": [1.0, 1.0]})
    assert ndcg_at_k(a, 1, group=["q"], score="score", label="label") == 1.0
    assert ndcg_at_k(a.reverse(), 1, group=["q"], score="score", label="label") == 1.0


def test_recall_coverage_novelty() -> None:
    rec = pl.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["a", "b", "a"],
                        "rank": [1, 2, 1]})
    rel = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u3"], "item_id": ["b", "c", "z", "a"]})
    # u1: 1 of 2, u2: 0 of 1, u3 (nothing recommended): 0 of 1.
    assert recall_at_k(rec, rel, 2) == pytest.approx((0.5 + 0 + 0) / 3)
    assert recall_at_k(rec, rel, 1) == pytest.approx(0.0)
    assert coverage(rec, catalog_size=4, k=2) == 0.5
    pop = pl.DataFrame({"item_id": ["a", "b"], "p": [0.5, 0.25]})
    # top-2 items: a, b, a -> (1 + 2 + 1) / 3
    assert novelty(rec, pop, 2) == pytest.approx(4 / 3)
