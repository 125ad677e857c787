from ranking.models.interactions import code_interactions
from ranking.models.order import detect_order
from tests.models.conftest import sequential_log


def test_a_strongly_sequential_log_has_order():
    report = detect_order(code_interactions(sequential_log()), seed=1)
    assert report.has_order, report.reason
    assert report.gain > 0


def test_shuffled_timestamps_have_no_order():
    report = detect_order(code_interactions(sequential_log(shuffle_time=True)), seed=1)
    assert not report.has_order, report.reason


def test_bunched_timestamps_have_no_order_without_probing():
    report = detect_order(code_interactions(sequential_log(bunch=True)), seed=1)
    assert not report.has_order
    assert report.tied_share == 1.0
    assert "share a timestamp" in report.reason
