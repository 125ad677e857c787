"""Copying a whole control store from one backend to another: an existing home's
`control.sqlite` onto a PostgreSQL server when it outgrows one host (`reelrank control copy`),
or a PostgreSQL store into a private SQLite file (the session simulator's sandbox).

Every table of the schema is copied row for row, keys and sequence numbers included, in one
read transaction of the source (one moment of it) and one write transaction of the target,
which must be migrated to the same version and empty: a copy never merges two stores.
"""

from __future__ import annotations

from reelrank.control.connection import Connection, dialect, marks, transaction
from reelrank.errors import ConflictError
from reelrank.migrate import current_version

__all__ = ["copy_store", "store_tables"]

# The grants' change feed is not copied: the target's trigger writes its own rows as the
# grants are copied in (and a server reading the new store starts from all of them).
_SKIP = ("schema_migrations", "sqlite_sequence", "grant_changes")


def store_tables(con: Connection) -> list[str]:
    """The control store's tables (not the migration bookkeeping), by name."""
    if dialect(con) == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = "
               "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
    return [name for (name,) in con.execute(sql).fetchall() if name not in _SKIP]


def _columns(con: Connection, table: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]


def _issued(con: Connection, table: str, column: str) -> int:
    """The highest key `con` ever issued in `table` (a deleted newest row's included: a
    poller that saw it must never see its number again), 0 when none."""
    if dialect(con) == "sqlite":
        row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
    else:
        row = con.execute(f"SELECT pg_sequence_last_value(pg_get_serial_sequence("
                          f"'{table}', '{column}'))").fetchone()
    top = con.execute(f"SELECT max({column}) FROM {table}").fetchone()
    return max(int(row[0]) if row and row[0] is not None else 0,
               int(top[0]) if top[0] is not None else 0)


def _continue_keys(source: Connection, target: Connection, table: str,
                   columns: list[str]) -> None:
    """The target's next generated key follows every key the source ever issued."""
    for column in ("seq", "entry_id"):
        if column not in columns:
            continue
        issued = _issued(source, table, column)
        if issued == 0:
            continue
        if dialect(target) == "sqlite":
            target.execute("DELETE FROM sqlite_sequence WHERE name = ?", [table])
            target.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                           [table, issued])
        else:
            target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), ?)",
                           [issued])


def copy_store(source: Connection, target: Connection) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; returns rows copied per table."""
    if current_version(source) != current_version(target):
        raise ConflictError(f"the stores are at schema versions {current_version(source)} "
                            f"and {current_version(target)}; open both with this reelrank "
                            "first, which migrates them")
    tables = store_tables(source)
    if sorted(tables) != sorted(store_tables(target)):
        raise ConflictError("the two stores do not hold the same tables")
    copied: dict[str, int] = {}
    with transaction(source, read_only=True), transaction(target):
        for table in tables:
            if target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                raise ConflictError(f"the target store already holds rows in {table}; "
                                    "copy only into an empty store")
        for table in tables:
            columns = _columns(source, table)
            # In key order: the ledger's guard checks each debit against the rows before it.
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1"
                                  ).fetchall()
            target.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                               f"VALUES ({marks(columns)})", rows)
            _continue_keys(source, target, table, columns)
            copied[table] = len(rows)
    return copied
