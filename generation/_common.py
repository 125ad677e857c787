"""Time and transactions shared by the generation modules.

Every control-store timestamp here is written by `iso`: fixed-width ISO-8601 UTC with
microseconds and a `Z`, the form ingestion writes, so text comparison in SQL (`lease_expires_at
<= ?`) is time comparison.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

__all__ = ["Clock", "immediate", "iso", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"timestamps must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextmanager
def immediate(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction that takes the database's write lock at once.

    `BEGIN IMMEDIATE` rather than a deferred `BEGIN`: each of these transactions reads and
    then writes (count today's requests, then insert; check the balance, then charge), and
    holding the lock from the first read is what makes the read still true at the write, across
    any number of API and worker processes. The connection must be in autocommit mode
    (`isolation_level=None`), as `DataHome.control()` opens it.
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
