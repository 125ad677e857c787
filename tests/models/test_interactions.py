import numpy as np
import polars as pl
import pytest

from ranking.models.interactions import code_interactions


def test_codes_are_sorted_ids_and_rows_follow_time():
    frame = pl.DataFrame({"user_id": ["b", "a", "a", "b"], "item_id": [30, 10, 20, 10],
                          "ts": [5, 2, 1, 3]})
    log = code_interactions(frame)
    assert log.user_ids.tolist() == ["a", "b"]
    assert log.item_ids.tolist() == [10, 20, 30]
    # user a: item 20 at t=1 then item 10 at t=2; user b: 10 at 3, 30 at 5
    assert log.users.tolist() == [0, 0, 1, 1]
    assert log.items.tolist() == [1, 0, 0, 2]
    assert log.matrix.toarray().tolist() == [[1, 1, 0], [1, 0, 1]]
    assert log.recent_items(3).tolist() == [[-1, 1, 0], [-1, 0, 2]]


def test_repeats_count_once_in_the_matrix():
    log = code_interactions(pl.DataFrame({"user_id": [1, 1], "item_id": [7, 7], "ts": [1, 2]}))
    assert log.matrix.toarray().tolist() == [[1.0]]


@pytest.mark.parametrize(("frame", "message"), [
    (pl.DataFrame({"user_id": [1], "item_id": [1]}), "lack column"),
    (pl.DataFrame({"user_id": [1], "item_id": [None], "ts": [1]}), "nulls"),
    (pl.DataFrame({"user_id": [1], "item_id": [1], "ts": ["x"]}), "ts must be numeric"),
    (pl.DataFrame({"user_id": [], "item_id": [], "ts": []}), "0 rows"),
])
def test_bad_input_is_refused_by_name(frame, message):
    with pytest.raises(ValueError, match=message):
        code_interactions(frame)


def test_take_keeps_the_coding():
    log = code_interactions(pl.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "ts": [1, 2]}))
    part = log.take(np.array([True, False]))
    assert part.matrix.shape == log.matrix.shape
    with pytest.raises(ValueError, match="mask has shape"):
        log.take(np.array([True]))
