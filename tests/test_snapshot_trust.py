"""What an attack run broke in serving snapshots: a compiled ranker trusted blindly, a server
that stays down when `latest` is corrupt, and pruning that could delete what is served."""

from __future__ import annotations

import os
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from ranking.compiled import compiled_predict
from ranking.publish import hold, mark_good, point_latest, prune
from ranking.ranker import TrainedRanker
from reelrank.home import DataHome
from tests.test_api_support import Server, clone_snapshot, copy_home, token


def _library(home: DataHome) -> Path:
    (found,) = sorted((home.dir("snapshots") / ".compiled").glob("ranker-*.so"))
    return found


def _other_model(features: int, path: Path) -> Path:
    """A different model over the same number of features, compiled by lleaves."""
    import lleaves

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, features))
    booster = lgb.train({"objective": "regression", "verbosity": -1, "num_leaves": 4},
                        lgb.Dataset(x, label=rng.normal(size=400)), num_boost_round=3)
    booster.save_model(str(path.with_suffix(".txt")))
    lleaves.Model(model_file=str(path.with_suffix(".txt"))).compile(cache=str(path))
    return path


def _feed_ok(server: Server, home: DataHome) -> None:
    with server.client(token(home, "service", "app")) as client:
        snapshot = client.get("/readyz").json()["snapshot"]
        assert snapshot
        got = client.get("/v1/feed", params={"user_id": _some_user(home), "limit": 5})
        assert got.status_code == 200, got.text
        assert got.json()["items"]


def _some_user(home: DataHome) -> object:
    import polars as pl

    return pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")["user_id"][0]


def test_a_corrupt_or_foreign_compiled_ranker_is_refused_not_fatal(
        scored_home: DataHome, tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    with Server(home, tmp_path / "first.log") as server:
        _feed_ok(server, home)
    library = _library(home)
    good = library.read_bytes()
    # Garbage where the library was: LLVM would abort the process loading it.
    library.write_bytes(b"\x7fELF" + os.urandom(4096))
    with Server(home, tmp_path / "corrupt.log") as server:
        _feed_ok(server, home)
    assert _library(home).read_bytes() == good  # rebuilt from the verified model.txt
    # Another model's library copied over it: it loads, but would score differently.
    features = TrainedRanker.load((home.dir("snapshots") / "latest" / "ranker").resolve()
                                  ).booster.num_feature()
    foreign = _other_model(features, tmp_path / "other.so").read_bytes()
    library.write_bytes(foreign)
    with Server(home, tmp_path / "foreign.log") as server:
        _feed_ok(server, home)
    assert _library(home).read_bytes() == good


def test_the_compiled_function_scores_like_lightgbm_after_a_swap(
        scored_home: DataHome, tmp_path: Path) -> None:
    model = (scored_home.dir("snapshots") / "latest" / "ranker" / "model.txt").resolve()
    cache = tmp_path / "cache"
    compiled_predict(model, cache)
    library = next(cache.glob("ranker-*.so"))
    booster = lgb.Booster(model_file=str(model))
    library.write_bytes(_other_model(booster.num_feature(), tmp_path / "x.so").read_bytes())
    (library.with_suffix(".verified.json")).unlink()
    predict = compiled_predict(model, cache)
    x = np.random.default_rng(1).normal(size=(50, booster.num_feature()))
    np.testing.assert_allclose(predict(x), booster.predict(x), rtol=0, atol=1e-9)


def test_a_server_restarted_on_a_corrupt_latest_serves_the_newest_good_one(
        scored_home: DataHome, tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    good = (home.dir("snapshots") / "latest").resolve().name
    fixed = clone_snapshot(home, "2099-01-02-fixed")  # published later
    bad = clone_snapshot(home, "2099-01-01-bad")
    with (bad / "items.parquet").open("ab") as handle:
        handle.write(b"\0garbage")
    point_latest(home.dir("snapshots"), bad)
    with Server(home, tmp_path / "server.log") as server, \
            server.client(token(home, "service", "app")) as client:
        assert client.get("/readyz").json()["snapshot"] == good
        got = client.get("/v1/feed", params={"user_id": _some_user(home), "limit": 5})
        assert got.status_code == 200 and got.headers["X-Reelrank-Snapshot"] == good
        # Once a good snapshot is published at `latest`, it is served.
        point_latest(home.dir("snapshots"), fixed)
        deadline = time.monotonic() + 60
        while client.get("/readyz").json()["snapshot"] != fixed.name:
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.2)


def _runs(root: Path, names: list[str]) -> None:
    for n, name in enumerate(names):
        (root / name).mkdir()
        os.utime(root / name, (1_000 + n, 1_000 + n))


def test_pruning_keeps_the_served_and_the_last_good_and_ignores_crash_leftovers(
        tmp_path: Path) -> None:
    _runs(tmp_path, ["a", "b", "c", "d", "e"])
    for name in ("a", "b", "d"):
        point_latest(tmp_path, tmp_path / name)   # published: a, b, d (c never was)
    hold(tmp_path, "a", every_s=5, holder="server-1")   # a server still serves a
    mark_good(tmp_path, "b")                            # b loaded whole somewhere
    removed = prune(tmp_path, keep=1)
    # d is latest (and the 1 kept), a is served, b is the last good; c was a leftover of a
    # crashed run (older than the newest published); e is newer than it: a run in progress.
    assert sorted(p.name for p in removed) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")
                  and not p.is_symlink()) == ["a", "b", "d", "e"]


@pytest.mark.parametrize("stale_s", [10_000])
def test_a_dead_servers_lease_holds_nothing(tmp_path: Path, stale_s: int) -> None:
    _runs(tmp_path, ["a", "b", "c"])
    for name in ("a", "b", "c"):
        point_latest(tmp_path, tmp_path / name)
    lease = hold(tmp_path, "a", every_s=5, holder="gone")
    old = time.time() - stale_s
    os.utime(lease, (old, old))
    assert [p.name for p in prune(tmp_path, keep=1)] == ["b", "a"]
    assert not lease.exists()
