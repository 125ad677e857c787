"""A fresh, migrated control store per test, on each backend: a SQLite file (not
`:memory:`, so tests that need a second connection get one on the same store) and a fresh
schema on a PostgreSQL server (`tests.postgres`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reelrank.control import Connection, connect

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where the store is: what `connect` takes, for a second connection to it."""
    if request.param == "sqlite":
        return tmp_path / "control.sqlite"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def con(store: Path | str) -> Iterator[Connection]:
    con = connect(store)
    try:
        yield con
    finally:
        con.close()
