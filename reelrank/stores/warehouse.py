"""The warehouse: DuckDB file holding raw inputs, quarantine, and (later) feature tables.

Raw entity tables are created on first ingest rather than by a migration, because their id
columns take the type the data arrives with (BIGINT or VARCHAR) so ids come back exactly as
they came in. That choice is recorded in `id_types` and enforced on every later ingest.
Migrations hold what does not depend on it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from reelrank.migrate import Migration, apply_migrations

__all__ = ["WAREHOUSE_MIGRATIONS", "open_warehouse", "rewrite_warehouse"]

WAREHOUSE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="id types, ingest log, quarantine",
        statements=(
            """CREATE TABLE id_types (
                domain VARCHAR PRIMARY KEY,
                sql_type VARCHAR NOT NULL CHECK (sql_type IN ('BIGINT', 'VARCHAR'))
            )""",
            "CREATE SEQUENCE ingest_id_seq START 1",
            """CREATE TABLE ingest_log (
                ingest_id BIGINT PRIMARY KEY,
                source VARCHAR NOT NULL,
                table_name VARCHAR NOT NULL,
                rows_read BIGINT NOT NULL,
                rows_loaded BIGINT NOT NULL,
                rows_unchanged BIGINT NOT NULL,
                rows_quarantined BIGINT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE quarantine (
                ingest_id BIGINT NOT NULL,
                source VARCHAR NOT NULL,
                table_name VARCHAR NOT NULL,
                record_no BIGINT NOT NULL,
                record VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                quarantined_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
    Migration(
        version=2,
        description="days whose events changed since their daily rollup",
        statements=("CREATE TABLE dirty_days (day DATE PRIMARY KEY)",),
    ),
    Migration(
        version=3,
        description="stand-in creators of imported logs that have no creators",
        # Text, whatever the home's user id type: a handful of rows, compared as text.
        statements=("CREATE TABLE stand_in_creators (user_id VARCHAR PRIMARY KEY)",),
    ),
    Migration(
        version=4,
        description="facts about the home's data, e.g. whether its log records exposures",
        statements=("CREATE TABLE home_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",),
    ),
)


def open_warehouse(
    path: Path, *, read_only: bool = False, threads: int = 2, memory_limit: str = "8GB"
) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the warehouse at `path`."""
    config = {"threads": threads, "memory_limit": memory_limit}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    # Timestamps are stored as TIMESTAMPTZ and must read back in UTC whatever the host's
    # zone; the TimeZone setting needs icu loaded first (it is built in, not autoloaded).
    con.execute("LOAD icu")
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        apply_migrations(con, WAREHOUSE_MIGRATIONS, "warehouse")
    return con


def rewrite_warehouse(path: Path, *, threads: int = 2, memory_limit: str = "8GB") -> None:
    """Copy the warehouse at `path` into a fresh file and put that in its place.

    DuckDB reuses the blocks a delete frees but does not zero them, so a purged chat or an
    erased user's rows would stay in the file's bytes until overwritten. After a purge or an
    erasure the pipeline rewrites the file (tables, constraints, sequences: `COPY FROM
    DATABASE`): a full copy, so it costs time in proportion to the warehouse, and runs only
    when private rows were deleted. The caller holds the write lock and no connection to it.
    """
    fresh = path.with_name(f".{path.name}.rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    try:
        con.execute("ATTACH ? AS old", [str(path)])
        con.execute("CHECKPOINT old")  # nothing of the old file left in a log
        con.execute("ATTACH ? AS fresh", [str(fresh)])
        con.execute("COPY FROM DATABASE old TO fresh")
        con.execute("DETACH fresh")
        con.execute("DETACH old")
    finally:
        con.close()
    fd = os.open(fresh, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
