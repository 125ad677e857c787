"""A scratch data home for an in-process simulation: the real home's published artefacts,
read through links, and a private copy of its control store.

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

from reelrank.home import DataHome

__all__ = ["sandbox"]

# What serving reads from a home: published snapshots (and their compiled-ranker cache),
# batch feeds, the models and indexes they name, rendered media, the worlds.
_SHARED = ("snapshots", "feeds", "models", "indexes", "media", "worlds")


def _copy_control(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite store (the backup API, not a file copy, so a
    server writing it meanwhile leaves no torn page). SQLite-specific, as the store is."""
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@contextmanager
def sandbox(home: DataHome) -> Iterator[DataHome]:
    """A data home that serves what `home` serves and writes nothing back to it."""
    with tempfile.TemporaryDirectory(prefix="reelrank-sessions-") as tmp:
        root = Path(tmp) / "home"
        root.mkdir()
        for name in _SHARED:
            (root / name).symlink_to(home.dir(name), target_is_directory=True)
        _copy_control(home.control_path, root / "control.sqlite")
        yield DataHome.open(root, settings=home.settings.model_copy(update={"home": root}))
