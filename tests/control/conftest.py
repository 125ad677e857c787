"""A fresh, migrated control store per test (a file, not `:memory:`, so tests that need a
second connection get one on the same store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reelrank.control import Connection, connect

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "control.sqlite"


@pytest.fixture
def con(path: Path) -> Iterator[Connection]:
    con = connect(path)
    try:
        yield con
    finally:
        con.close()
