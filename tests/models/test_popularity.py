import numpy as np
import polars as pl

from ranking.models.interactions import code_interactions
from ranking.models.popularity import PopularityParams, TimeIndex, fit_popularity


def test_windowed_counts_by_hand():
    # item 0 at t = 1, 2, 3; item 1 at t = 3, 9
    index = TimeIndex(np.array([1.0, 2, 3, 3, 9]), np.array([0, 0, 0, 1, 1]), 2)
    counts = index.counts(np.array([0, 0, 1, 1]), np.array([2.0, 0, 3, 4]),
                          np.array([3.0, 1, 9, 8]))
    assert counts.tolist() == [2, 1, 2, 0]
    # the 2 events just before t=3 (inclusive) start at t=3 (positions 3 and 4 are t=3)
    lo, hi = index.window(np.array([3.0]), 0.4, forward=False)
    assert (lo[0], hi[0]) == (3.0, 3.0)
    lo, hi = index.window(np.array([3.0]), 0.2, forward=True)
    assert hi[0] == 9.0 and lo[0] > 3.0
    assert index.first_ts.tolist() == [1.0, 3.0] and index.last_ts.tolist() == [3.0, 9.0]


def test_trending_follows_the_users_time():
    rows = [(1, "old", 1), (2, "old", 2), (3, "old", 3), (4, "new", 100), (5, "new", 101),
            (9, "x", 1), (8, "x", 102)]
    log = code_interactions(pl.DataFrame(rows, schema=["user_id", "item_id", "ts"],
                                         orient="row"))
    model = fit_popularity(log, PopularityParams(share=0.3))
    early, late = (int(np.searchsorted(log.user_ids, u)) for u in (9, 8))
    items, _ = model.top(np.array([early, late]), 1)
    assert log.item_ids[items[:, 0]].tolist() == ["old", "new"]
    assert fit_popularity(log, PopularityParams(1.0)).top(np.array([late]), 1)[0].tolist() \
        == [[int(np.searchsorted(log.item_ids, "old"))]]
