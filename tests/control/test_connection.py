"""The connection module: one timestamp format, one transaction helper."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reelrank.control import Connection, connect, stamp, transaction
from reelrank.control.connection import TRANSIENT_ERRORS, chunks, dialect, marks
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


def _impatient(con: Connection) -> Connection:
    """`con` waiting 50 ms for a lock instead of 30 s."""
    if dialect(con) == "sqlite":
        con.execute("PRAGMA busy_timeout=50")
    else:
        con.raw.execute("SET lock_timeout = '50ms'")  # type: ignore[attr-defined]
    return con


def test_a_write_transaction_holds_the_lock_from_its_first_statement(store: Path | str,
                                                                     con: Connection) -> None:
    other = _impatient(connect(store))
    try:
        with transaction(con), pytest.raises(TRANSIENT_ERRORS, match="lock"), \
                transaction(other):
            pass
        with transaction(other):  # free again after the commit
            other.execute("INSERT INTO served_today (user_id, day, served) VALUES ('a', 'd', 1)")
        assert not other.in_transaction
    finally:
        other.close()


def test_a_read_transaction_does_not_wait_for_a_writer(store: Path | str,
                                                       con: Connection) -> None:
    con.execute("INSERT INTO served_today (user_id, day, served) VALUES ('a', 'd', 1)")
    reader = _impatient(connect(store))
    try:
        with transaction(con):
            con.execute("UPDATE served_today SET served = 5")
            with transaction(reader, read_only=True):
                assert reader.execute("SELECT served FROM served_today").fetchall() == [(1,)]
    finally:
        reader.close()


def test_read_only_connections_cannot_write(store: Path | str, con: Connection) -> None:
    reader = connect(store, read_only=True)
    try:
        with pytest.raises(Exception, match="readonly|read-only"):
            reader.execute("DELETE FROM served_today")
    finally:
        reader.close()


def test_in_lists_are_placeholders_in_parts() -> None:
    assert marks([7, "x", None]) == "?, ?, ?"
    assert [len(part) for part in chunks(list(range(1201)))] == [500, 500, 201]
