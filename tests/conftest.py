"""Shared fixtures: a fresh data home per test and a tiny hand-built world."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from reelrank.home import DataHome
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _control_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """`REELRANK_TEST_CONTROL=postgresql`: every home a test opens itself (and every server
    it starts) keeps its control store on a fresh PostgreSQL schema instead of SQLite, to run
    any part of the suite against that backend."""
    if os.environ.get("REELRANK_TEST_CONTROL") == "postgresql":
        monkeypatch.setenv("REELRANK_CONTROL_URL", request.getfixturevalue("postgres_url"))


@pytest.fixture
def home(tmp_path: Path) -> DataHome:
    return DataHome.open(tmp_path / "home")


def ts(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def tiny_world(directory: Path, *, ids: str = "str") -> Path:
    """Three users, two items, a handful of events, grants and settings; all valid."""
    directory.mkdir(parents=True, exist_ok=True)
    u = (lambda i: f"u{i}") if ids == "str" else (lambda i: i)
    v = (lambda i: f"v{i}") if ids == "str" else (lambda i: 100 + i)
    id_type = pl.String if ids == "str" else pl.Int64
    pl.DataFrame({
        "user_id": [u(1), u(2), u(3)],
        "created_at": [ts(1), ts(1), ts(2)],
        "birth_year": [1990, 2011, 1985],
        "country": ["US", "BR", "DE"],
    }, schema_overrides={"user_id": id_type}).write_parquet(directory / "users.parquet")
    pl.DataFrame({
        "item_id": [v(1), v(2)],
        "creator_id": [u(1), u(3)],
        "created_at": [ts(3), ts(4)],
        "text": ["a cat learns to skateboard", "featuring @u1 cooking ramen"],
        "cameo_user_ids": [[], [u(1)]],
        "duration_s": [12.0, 30.5],
        "safety_label": ["safe", "safe"],
        "remix_of": [None, v(1)],
    }, schema_overrides={"item_id": id_type, "creator_id": id_type, "remix_of": id_type,
                         "cameo_user_ids": pl.List(id_type)}).write_parquet(
        directory / "items.parquet")
    pl.DataFrame({
        "event_id": ["e1", "e2", "e3", "e4"],
        "user_id": [u(2), u(2), u(3), u(1)],
        "item_id": [v(1), v(1), v(1), v(2)],
        "event_type": ["impression", "like", "impression", "impression"],
        "ts": [ts(5), ts(5, 13), ts(6), ts(6)],
        "watch_ms": [9000, None, 1000, 30000],
        "ip": ["8.8.8.8", "8.8.8.8", "192.168.1.7", "2001:4860:4860::8888"],
    }, schema_overrides={"user_id": id_type, "item_id": id_type}).write_parquet(
        directory / "events.parquet")
    pl.DataFrame({
        "owner_id": [u(1)], "grantee_id": [u(3)], "granted_at": [ts(2)], "revoked_at": [None],
    }, schema_overrides={"owner_id": id_type, "grantee_id": id_type,
                         "revoked_at": pl.Datetime("us", "UTC")}).write_parquet(
        directory / "cameo_grants.parquet")
    pl.DataFrame({
        "user_id": [u(1), u(3)], "chat_personalization": [True, False],
        "updated_at": [ts(2), ts(2)],
    }, schema_overrides={"user_id": id_type}).write_parquet(directory / "user_settings.parquet")
    pl.DataFrame({
        "child_id": [u(2)], "guardian_id": [u(1)], "personalization": [False],
        "scroll_limit": [60], "dm_policy": ["friends"], "linked_at": [ts(2)],
    }, schema_overrides={"child_id": id_type, "guardian_id": id_type}).write_parquet(
        directory / "guardians.parquet")
    return directory


@pytest.fixture(scope="session")
def scored_home(tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    """A small synthetic world run end to end: features, ranker, snapshot, feeds. Shared by
    the scoring and serving tests; tests that change its control store undo the change."""
    from cli.runner import run_nightly
    from pipelines.resources import EmbedderResource

    home = DataHome.open(tmp_path_factory.mktemp("score") / "home")
    summary = run_nightly(home, users=500, days=9, seed=5,
                          embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    return home


@pytest.fixture(scope="session")
def live_home(tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    """A world with a catalog large enough to scroll a thousand items in a day (2,500 users x
    8 days: about 1,150 videos), run end to end. Tests that change it work on a copy."""
    from cli.runner import run_nightly
    from pipelines.resources import EmbedderResource

    home = DataHome.open(tmp_path_factory.mktemp("live") / "home")
    summary = run_nightly(home, users=2500, days=8, seed=11,
                          embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    return home
