import numpy as np
import pytest

from ranking.models.als import AlsParams, FactorModel, fit_als
from ranking.models.bpr import BprParams, fit_bpr
from ranking.models.cooc import CoocModel, CoocParams, fit_cooc
from ranking.models.interactions import code_interactions
from ranking.models.itemknn import ItemKnnModel, ItemKnnParams, fit_itemknn
from ranking.models.sequence import SequenceModel, SequenceParams, fit_sequence
from ranking.models.tuning import carve
from tests.models.conftest import sequential_log

TINY_SEQ = SequenceParams(max_len=8, dim=16, heads=2, layers=1, epochs=3, batch_size=32)


@pytest.fixture(scope="module")
def log():
    return code_interactions(sequential_log(n_users=80, n_items=30, length=10), seed=0)


@pytest.mark.parametrize(("fit", "params", "load"), [
    (fit_als, AlsParams(factors=8, iterations=5), lambda d: FactorModel.load(d, "als")),
    (fit_bpr, BprParams(factors=8, iterations=10), lambda d: FactorModel.load(d, "bpr")),
    (fit_itemknn, ItemKnnParams(k=5, half_life=2.0), ItemKnnModel.load),
    (fit_cooc, CoocParams(window=3, half_life=2.0), CoocModel.load),
    (fit_sequence, TINY_SEQ, SequenceModel.load),
])
def test_same_seed_same_model_and_save_load_round_trip(log, fit, params, load, tmp_path):
    users = np.arange(log.n_users)
    a = fit(log, params, 5).score_block(users)
    b_model = fit(log, params, 5)
    np.testing.assert_array_equal(a, b_model.score_block(users))
    again = load(b_model.save(tmp_path / "m"))
    np.testing.assert_allclose(again.score_block(users), a, rtol=1e-6)
    np.testing.assert_array_equal(again.top(users, 3)[0], b_model.top(users, 3)[0])


def test_sequence_model_learns_the_successor(log):
    split = carve(log, "per_user", 0.2)
    params = SequenceParams(max_len=8, dim=32, heads=2, layers=1, epochs=30, batch_size=32,
                            lr=1e-2, dropout=0.0, negatives=29, patience=30)
    model = fit_sequence(split.fit, params, 0, validation=(split.truth, split.users))
    top, _ = model.top(split.users, 1)
    # the next item is the successor of the user's last fit item on the ring
    last = split.fit.recent_items(1)[split.users, 0]
    assert np.mean(top[:, 0] == (last + 1) % log.n_items) > 0.8
