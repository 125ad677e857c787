"""A snapshot is warmed up before it serves: `api_warmup_users` random users ranked (no live
state, nothing read from or written to the control store) and thrown away, so the first page
faults of the mapped arrays happen before the swap and not in requests."""

from __future__ import annotations

import logging

import pytest

from api.serving import load_live, warm_up
from ranking.engine import Engine
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome


@pytest.fixture(scope="module")
def engine(scored_home: DataHome) -> Engine:
    snap = ServingSnapshot.load(scored_home.dir("snapshots") / "latest")
    return Engine.load(snap, scored_home.settings)


def _spy(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    real = engine.rank

    def rank(users, live, *args, **kwargs):
        calls.append((tuple(users), live, kwargs.get("first")))
        return real(users, live, *args, **kwargs)

    monkeypatch.setattr(engine, "rank", rank)
    return calls


def test_it_ranks_that_many_distinct_users_one_at_a_time(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(engine, monkeypatch)
    assert warm_up(engine, 7) > 0
    users = [c[0] for c in calls]
    assert len(users) == 7 and all(len(u) == 1 for u in users)
    assert len(set(users)) == 7
    assert {u[0] for u in users} <= set(engine.snap.user_id_list)
    # No live state: no grants, no policies; a page's worth, as a request ranks it.
    assert all(c[1].grants == frozenset() and not c[1].policies and c[2] == 20 for c in calls)


def test_zero_turns_it_off_and_more_than_there_are_ranks_everyone(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(engine, monkeypatch)
    assert warm_up(engine, 0) == 0.0 and not calls
    warm_up(engine, 10 * len(engine.snap.user_id_list))
    assert len(calls) == len(engine.snap.user_id_list)


def test_a_failure_is_logged_and_the_snapshot_still_serves(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "rank", broken)
    with caplog.at_level(logging.ERROR, logger="api.serving"):
        warm_up(engine, 3)
    assert "serving it cold" in caplog.text


def test_loading_warms_up_with_the_setting(scored_home: DataHome,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr("api.serving.warm_up", lambda engine, users: seen.append(users) or 0.0)
    monkeypatch.setenv("REELRANK_API_WARMUP_USERS", "13")
    home = DataHome.open(scored_home.root)
    live = load_live(home, (home.dir("snapshots") / "latest").resolve())
    assert seen == [13] and live.service is not None
