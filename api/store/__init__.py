"""The control-store reads and writes behind the API's endpoints: plain state changes with
bound parameters. Decisions (what may be shown, who may message whom) are not made here but
in `ranking.policy`, which reads what these write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["rows_as_dicts", "transaction"]


@contextmanager
def transaction(control: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken up front so a read-then-write cannot interleave."""
    control.execute("BEGIN IMMEDIATE")
    try:
        yield control
    except BaseException:
        control.execute("ROLLBACK")
        raise
    control.execute("COMMIT")


def rows_as_dicts(cursor: sqlite3.Cursor) -> list[dict[str, object]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
