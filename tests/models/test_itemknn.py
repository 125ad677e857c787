import numpy as np
import polars as pl
from scipy import sparse

from ranking.models.interactions import code_interactions
from ranking.models.itemknn import ItemKnnParams, cosine_neighbours, fit_itemknn


def test_cosine_neighbours_by_hand():
    # items 0 and 1 always together (cos 1); item 2 with 0 once (cos 1/sqrt(2*... )).
    x = sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1], [0, 0, 1]],
                                   dtype=np.float32))
    # counts: n0 = 2, n1 = 2, n2 = 3; co(0,1) = 2, co(0,2) = co(1,2) = 1
    s = cosine_neighbours(x, 1).toarray()
    np.testing.assert_allclose(s[0], [0, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(s[1], [1, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(s[2], [1 / np.sqrt(6), 0, 0], rtol=1e-6)  # tie: lower index
    full = cosine_neighbours(x, 2).toarray()
    np.testing.assert_allclose(full[2], [1 / np.sqrt(6), 1 / np.sqrt(6), 0], rtol=1e-6)


def test_recency_weighting_prefers_the_last_items_neighbours():
    # user 9 took item 0 long ago and item 2 last; 1 co-occurs with 0, 3 with 2.
    rows = [(1, 0, 0), (1, 1, 1), (2, 0, 0), (2, 1, 1), (3, 2, 0), (3, 3, 1), (9, 0, 0),
            (9, 2, 5)]
    log = code_interactions(pl.DataFrame(rows, schema=["user_id", "item_id", "ts"],
                                         orient="row"))
    user = int(np.searchsorted(log.user_ids, 9))
    plain = fit_itemknn(log, ItemKnnParams(k=5)).score_block(np.array([user]))[0]
    recent = fit_itemknn(log, ItemKnnParams(k=5, half_life=0.5)).score_block(np.array([user]))[0]
    assert recent[3] > recent[1]
    assert recent[3] / recent[1] > plain[3] / plain[1]
