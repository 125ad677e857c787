"""A scratch data home for an in-process simulation: the real home's published artefacts,
read through links, and a private copy of its control store (a SQLite file, whichever backend
the real one is on).

Simulated people post events, claim scroll allowance and get served; written into the real
control store, those events would be drained into the next nightly run as if real people
had made them, and a second simulation would start from the first one's traces (so the same
seed would not give the same run). The copy is taken once, at the start, and deleted with
the scratch directory.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from reelrank.control.connection import connect, dialect
from reelrank.control.transfer import copy_store
from reelrank.home import DataHome

__all__ = ["sandbox"]

# What serving reads from a home: published snapshots (and their compiled-ranker cache),
# batch feeds, the models and indexes they name, rendered media, the worlds.
_SHARED = ("snapshots", "feeds", "models", "indexes", "media", "worlds")


def _copy_control(home: DataHome, target: Path) -> None:
    """A consistent copy of the live store: SQLite's backup API (not a file copy, so a server
    writing it meanwhile leaves no torn page), or a PostgreSQL store's rows copied into a
    freshly migrated SQLite one (`control.transfer`)."""
    source = home.control(read_only=True)
    try:
        if dialect(source) == "sqlite":
            with closing(sqlite3.connect(target)) as dst:
                source.backup(dst)  # type: ignore[attr-defined]
            return
        with closing(connect(target)) as dst:
            copy_store(source, dst)
    finally:
        source.close()


@contextmanager
def sandbox(home: DataHome) -> Iterator[DataHome]:
    """A data home that serves what `home` serves and writes nothing back to it."""
    with tempfile.TemporaryDirectory(prefix="reelrank-sessions-") as tmp:
        root = Path(tmp) / "home"
        root.mkdir()
        for name in _SHARED:
            (root / name).symlink_to(home.dir(name), target_is_directory=True)
        _copy_control(home, root / "control.sqlite")
        yield DataHome.open(root, settings=home.settings.model_copy(
            update={"home": root, "control_url": None}))
