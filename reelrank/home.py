"""The data home: one directory holding everything a reelrank deployment writes.

    HOME/
      warehouse.duckdb    raw inputs, quarantine, feature tables (DuckDB)
      control.sqlite      live state: settings, guardians, grants, inbox, queue, credits, tokens
                          (`reelrank.control`); on a PostgreSQL server instead when
                          `REELRANK_CONTROL_URL` names one
      models/             ranker artifacts, versioned
      indexes/            FAISS indexes
      snapshots/          published serving snapshots (read-only once published)
      feeds/              batch-scored feeds per run, `latest` pointing at the newest
      media/              rendered clips and thumbnails
      landing/            input files waiting for the next pipeline run
      worlds/             synthetic worlds generated into this home
      imports/            staged contract files from `reelrank import` (kept for audit)
      exports/            what each ingest hands the API besides the snapshot: the keys of
                          the events the warehouse holds (`reelrank.event_keys`)
      dagster/            the Dagster instance's storage
      keys/               secrets the home's processes share (the feed cursors' signing key)
      write.lock          held by whichever process writes the warehouse
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from reelrank.control.connection import Connection, connect
from reelrank.errors import HomeBusyError
from reelrank.settings import Settings
from reelrank.stores import open_warehouse, rewrite_warehouse

__all__ = ["DataHome", "resolve_home"]

_SUBDIRS = (
    "models", "indexes", "snapshots", "feeds", "media", "landing", "worlds", "imports",
    "dagster", "reports", "keys", "exports",
)


def resolve_home(home: str | os.PathLike[str] | None) -> Path:
    """`--home` if given, else `REELRANK_HOME`, else `./.reelrank`."""
    if home is not None:
        return Path(home)
    return Path(os.environ.get("REELRANK_HOME") or ".reelrank")


@dataclass(frozen=True)
class DataHome:
    """A data home on disk. `open` creates the layout and migrates both stores."""

    root: Path
    settings: Settings

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None, settings: Settings | None = None
             ) -> DataHome:
        path = resolve_home(root).resolve()
        path.mkdir(parents=True, exist_ok=True)
        for name in _SUBDIRS:
            (path / name).mkdir(exist_ok=True)
        home = cls(root=path, settings=settings or Settings(home=path))
        # The control store migrates here. The warehouse migrates when a writer opens it
        # (under the write lock): opening it now could collide with a running pipeline.
        home.control().close()
        return home

    def dir(self, name: str) -> Path:
        if name not in _SUBDIRS:
            raise ValueError(f"unknown data home directory {name!r}; known: {_SUBDIRS}")
        return self.root / name

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def control_path(self) -> Path:
        return self.root / "control.sqlite"

    @property
    def event_keys_path(self) -> Path:
        """The events the warehouse held at the last ingest (`reelrank.event_keys`)."""
        return self.root / "exports" / "event_keys.npy"

    def warehouse(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A new warehouse connection; the caller closes it."""
        return open_warehouse(
            self.warehouse_path,
            read_only=read_only,
            threads=self.settings.duckdb_threads,
            memory_limit=self.settings.duckdb_memory_limit,
        )

    @property
    def control_target(self) -> Path | str:
        """Where the control store is: `control_url` when set, else `control_path`."""
        url = self.settings.control_url
        return url.get_secret_value() if url is not None else self.control_path

    def control(self, *, read_only: bool = False) -> Connection:
        """A new control-store connection (`reelrank.control`); the caller closes it."""
        return connect(self.control_target, read_only=read_only)

    def rewrite_warehouse(self, timeout_s: float = 600.0) -> None:
        """Rewrite the warehouse file so that deleted rows leave its bytes too
        (`reelrank.stores.rewrite_warehouse`); under the write lock, with no connection of
        this process open."""
        with self.write_lock(timeout_s=timeout_s):
            rewrite_warehouse(self.warehouse_path, threads=self.settings.duckdb_threads,
                              memory_limit=self.settings.duckdb_memory_limit)

    @contextmanager
    def writing(self, timeout_s: float = 600.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """The write lock and an open warehouse connection, closed on the way out."""
        with self.write_lock(timeout_s=timeout_s):
            con = self.warehouse()
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def write_lock(self, timeout_s: float = 0.0) -> Iterator[None]:
        """Exclusive right to write the warehouse, across processes.

        DuckDB itself refuses a second read-write process, but with an unhelpful error and
        only while a connection is open; this lock spans a whole ingest or pipeline run.
        """
        lock = FileLock(str(self.root / "write.lock"), timeout=timeout_s)
        try:
            lock.acquire()
        except Timeout as exc:
            raise HomeBusyError(
                f"another reelrank process is writing {self.root} (lock {lock.lock_file}); "
                "wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            lock.release()
