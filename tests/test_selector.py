"""The selector's rules on tiny hand-made pools: creator cap, exploration slots (same-day
reach first), MMR diversity, and determinism."""

from __future__ import annotations

import numpy as np

from ranking.selectors.feed import SelectionParams, select_page

PLAIN = SelectionParams(length=10, per_creator_cap=10, mmr_lambda=1.0, exploration_every=1000)


def _pool(n: int, dim: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scores = np.linspace(1.0, 0.0, n)  # already sorted, best first
    vectors = np.eye(n, dim, dtype=np.float32)  # orthogonal where n <= dim, else zeros
    return scores, vectors, np.arange(n), np.zeros(n, dtype=bool)


def test_with_every_rule_off_the_page_is_the_top_scores_in_order() -> None:
    scores, vectors, creators, fresh = _pool(15)
    assert select_page(scores, vectors, creators, fresh, PLAIN) == list(range(10))


def test_no_creator_gets_more_than_the_cap() -> None:
    scores, vectors, _creators, fresh = _pool(12)
    creators = np.array(["a"] * 8 + ["b"] * 4)
    page = select_page(scores, vectors, creators, fresh,
                       SelectionParams(10, 3, 1.0, 1000))
    assert page == [0, 1, 2, 8, 9, 10]  # three of a's, three of b's, then nothing allowed


def test_every_nth_slot_goes_to_the_best_fresh_video_and_same_day_reach_comes_first() -> None:
    scores, vectors, creators, _fresh = _pool(30)
    fresh = np.zeros(30, dtype=bool)
    fresh[[20, 25, 29]] = True
    params = SelectionParams(length=10, per_creator_cap=10, mmr_lambda=1.0, exploration_every=5)
    page = select_page(scores, vectors, creators, fresh, params)
    assert page[4] == 20 and page[9] == 25  # slots 5 and 10: the best-scored fresh ones
    priority = np.zeros(30, dtype=bool)
    priority[29] = True
    page = select_page(scores, vectors, creators, fresh, params, priority)
    assert page[4] == 29 and page[9] == 20


def test_mmr_moves_a_near_duplicate_of_the_top_item_down() -> None:
    scores = np.array([1.0, 0.95, 0.9])
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)  # 1 duplicates 0
    creators, fresh = np.arange(3), np.zeros(3, dtype=bool)
    plain = select_page(scores, vectors, creators, fresh, SelectionParams(3, 3, 1.0, 1000))
    diverse = select_page(scores, vectors, creators, fresh, SelectionParams(3, 3, 0.5, 1000))
    assert plain == [0, 1, 2] and diverse == [0, 2, 1]


def test_equal_scores_keep_the_pool_order_every_time() -> None:
    scores = np.ones(6)
    vectors = np.zeros((6, 3), dtype=np.float32)
    creators, fresh = np.arange(6), np.zeros(6, dtype=bool)
    params = SelectionParams(6, 2, 0.8, 3)
    first = select_page(scores, vectors, creators, fresh, params)
    assert first == list(range(6))
    assert all(select_page(scores, vectors, creators, fresh, params) == first for _ in range(5))
