"""The connection module: one timestamp format, one transaction helper."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reelrank.control import Connection, connect, stamp, transaction
from reelrank.control.connection import chunks, marks
from tests.control.conftest import NOW


def test_stamp_is_fixed_width_utc_and_refuses_naive_times() -> None:
    assert stamp(NOW) == "2026-05-01T09:30:00.000000Z"
    # 11:30 at UTC+2 is the same instant, written the same way
    assert stamp(NOW.astimezone(timezone(timedelta(hours=2)))) == "2026-05-01T09:30:00.000000Z"
    with pytest.raises(ValueError, match="naive"):
        stamp(datetime(2026, 5, 1, 9, 30))


def test_a_transaction_commits_or_rolls_back_as_a_whole(con: Connection) -> None:
    with transaction(con):
        con.execute("INSERT INTO served_today (user_id, day, served) VALUES ('a', 'd', 1)")
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("INSERT INTO served_today (user_id, day, served) VALUES ('b', 'd', 1)")
        raise RuntimeError("half-way")
    assert not con.in_transaction
    assert con.execute("SELECT user_id FROM served_today").fetchall() == [("a",)]


def test_a_write_transaction_holds_the_lock_from_its_first_statement(path: Path,
                                                                     con: Connection) -> None:
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        with transaction(con), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_read_only_connections_cannot_write(path: Path, con: Connection) -> None:
    reader = connect(path, read_only=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("DELETE FROM served_today")
    finally:
        reader.close()


def test_in_lists_are_placeholders_in_parts() -> None:
    assert marks([7, "x", None]) == "?, ?, ?"
    assert [len(part) for part in chunks(list(range(1201)))] == [500, 500, 201]
