import numpy as np
import polars as pl
import pytest

from ranking.models.ease import EaseModel, EaseParams, fit_ease
from ranking.models.interactions import code_interactions


def _log():
    # users x items:  [1 1 0], [0 1 1], [1 1 1]
    pairs = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    return code_interactions(pl.DataFrame({"user_id": [u for u, _ in pairs],
                                           "item_id": [i for _, i in pairs],
                                           "ts": list(range(len(pairs)))}))


def test_ease_matches_the_closed_form_on_3x3(tmp_path):
    log = _log()
    x = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=np.float64)
    gram = x.T @ x  # diag 2, 3, 2: mean 7/3
    lam = 0.5 * 7 / 3
    p = np.linalg.inv(gram + lam * np.eye(3))
    want = -p / np.diag(p)
    np.fill_diagonal(want, 0.0)
    model = fit_ease(log, EaseParams(lam_scale=0.5))
    np.testing.assert_allclose(model.weights, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score_block(np.array([0])), x[:1] @ want, rtol=1e-5)
    again = EaseModel.load(model.save(tmp_path / "ease"))
    np.testing.assert_array_equal(again.weights, model.weights)


def test_top_excludes_what_the_user_has():
    items, _ = fit_ease(_log(), EaseParams()).top(np.array([0]), 1)
    assert items.tolist() == [[2]]


def test_params_are_bounded():
    with pytest.raises(ValueError, match="lam_scale must be a number"):
        EaseParams(lam_scale=-1.0)
