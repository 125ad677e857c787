"""The control store's connection: what every control-plane function takes, how one is opened,
the one transaction helper, and the one timestamp format.

SQLite in WAL mode by default, so the API's writers and the pipeline's readers do not block
each other, with `synchronous=FULL` because an acknowledged event or grant change must
survive a crash. PostgreSQL when `connect` is given a `postgresql://` URL (the setting
`REELRANK_CONTROL_URL`), for processes on several hosts: `postgres` adapts its connection to
the same `Connection` and `schema_pg` spells the same migrations.

Every function in `reelrank.control` takes a `Connection` first: the structural type below,
which a `sqlite3.Connection` opened by `connect` already is. The SQL in the concern modules is
kept to a portable subset (`?` placeholders, `ON CONFLICT ... DO NOTHING` / `DO UPDATE`,
`RETURNING`, no SQLite functions except where a module's docstring names one), which the
PostgreSQL adapter translates where it must. Callers get their connection from
`DataHome.control()` or the API's `ControlPool` and do not know which backend it is.

SQLite's spelling here, which the PostgreSQL adapter maps: the PRAGMAs in `connect`, `BEGIN
IMMEDIATE` and `BEGIN DEFERRED` in `transaction`; `compact` is SQLite's alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from reelrank.control.schema import CONTROL_MIGRATIONS
from reelrank.migrate import apply_migrations

__all__ = [
    "INTEGRITY_ERRORS",
    "TRANSIENT_ERRORS",
    "Connection",
    "Cursor",
    "abandon",
    "chunks",
    "compact",
    "connect",
    "dialect",
    "marks",
    "rows_as_dicts",
    "stamp",
    "transaction",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _postgres_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    try:
        import psycopg
    except ImportError:  # the PostgreSQL backend is an extra: `pip install 'reelrank[postgres]'`
        return (), ()
    return (psycopg.OperationalError,), (psycopg.IntegrityError,)


_PG_TRANSIENT, _PG_INTEGRITY = _postgres_errors()
# A busy or briefly unavailable store: worth retrying later rather than failing a job over.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError, *_PG_TRANSIENT)
# A row a key, check or the ledger's guards refused.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, *_PG_INTEGRITY)

# Lists longer than this go to `IN (...)` in parts (SQLite's default limit is 32766 bound
# parameters; parts keep each statement small).
CHUNK = 500


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A control-store connection in autocommit mode: statements outside `transaction` commit
    one by one."""

    @property
    def in_transaction(self) -> bool: ...

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted on this connection since it opened."""
        ...

    def execute(self, sql: str, parameters: Sequence[object] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]], /) -> Cursor: ...

    def close(self) -> None: ...


def connect(path: Path | str, *, read_only: bool = False) -> Connection:
    """Open (creating and migrating if needed) the control store at `path`: a SQLite file,
    or a `postgresql://` URL. `read_only` opens an existing store as it is, for tools that
    inspect another home."""
    if isinstance(path, str) and path.startswith(POSTGRES_SCHEMES):
        return _connect_postgres(path, read_only=read_only)
    if read_only:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0,
                               isolation_level=None, check_same_thread=False)
    con = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=30000")
    # What is deleted or overwritten (a drained event's IP, an erased user's rows) is zeroed
    # in the file, not left in free pages for a byte search to find.
    con.execute("PRAGMA secure_delete=ON")
    apply_migrations(con, CONTROL_MIGRATIONS, "control store")
    return con


def _connect_postgres(url: str, *, read_only: bool) -> Connection:
    try:
        from reelrank.control.postgres import WRITE_LOCK_KEY, connect_postgres
        from reelrank.control.schema_pg import PG_CONTROL_MIGRATIONS
    except ImportError as exc:
        raise ImportError("a PostgreSQL control store needs psycopg: "
                          "pip install 'reelrank[postgres]'") from exc
    con = connect_postgres(url)
    if read_only:
        con.raw.execute("SET default_transaction_read_only = on")
        return con
    # Processes starting at once migrate one after another (a session lock, not the
    # store's write lock, which migrations' own transactions would then wait on).
    con.raw.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK_KEY + 1])
    try:
        apply_migrations(con, PG_CONTROL_MIGRATIONS, "control store")
    finally:
        con.raw.execute("SELECT pg_advisory_unlock(%s)", [WRITE_LOCK_KEY + 1])
    return con


def dialect(con: Connection) -> str:
    """`sqlite` or `postgresql`: which backend `con` talks to."""
    return str(getattr(con, "dialect", "sqlite"))


@contextmanager
def transaction(con: Connection, *, read_only: bool = False) -> Iterator[Connection]:
    """One transaction, committed on the way out and rolled back if the block raises.

    A write transaction takes the store's write lock at once (`BEGIN IMMEDIATE`, not a
    deferred `BEGIN`): each one reads and then writes (count today's requests, then insert;
    check the balance, then charge; read the served count, then add to it), and holding the
    lock from the first read is what keeps the read true at the write, across any number of
    API and worker processes. A backend with row locks must give the same promise (e.g.
    SERIALIZABLE). `read_only`: a deferred `BEGIN`, so several reads see one moment of the
    store without taking the write lock.
    """
    con.execute("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def compact(con: Connection) -> bool:
    """Copy the write-ahead log into the store and truncate it, so that bytes the store has
    since overwritten (an IP dropped at drain, an erased user's rows) are not left in old
    log frames either; False when a reader kept it from finishing (the next call retries).
    On PostgreSQL the server's own vacuum reclaims dead rows; nothing to do here."""
    if dialect(con) != "sqlite":
        return True
    busy, _log, _done = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy


def abandon(con: Connection) -> None:
    """Roll back a transaction a failed caller left open, so the connection can be reused."""
    if con.in_transaction:
        con.execute("ROLLBACK")


def stamp(moment: datetime) -> str:
    """The control store's timestamp format: fixed-width ISO-8601 UTC with microseconds and a
    `Z` (the form ingestion writes), so comparing text in SQL (`lease_expires_at <= ?`)
    compares times."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamps must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def marks(values: Sequence[object]) -> str:
    """`?, ?, ...`: one placeholder per value, for `IN (...)`."""
    return ", ".join("?" * len(values))


def chunks(values: Sequence[object]) -> Iterator[Sequence[object]]:
    """`values` in parts of at most `CHUNK`, for `IN (...)` lists."""
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def rows_as_dicts(cursor: Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
