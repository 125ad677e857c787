"""Publishing: make a finished run's serving snapshot and feeds the live ones, and prune old
runs.

Every run writes into its own directory; `point_latest` repoints `root/latest` with an atomic
rename of a symlink, so readers see the old run or the new one, never a half-written mix.
Snapshots and feeds are both published through it. A run whose files fail validation is
refused, and the previous `latest` stays live.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import polars as pl

from ranking.batch import FEED_COLUMNS
from ranking.snapshot.format import MANIFEST
from reelrank.errors import ReelrankError

__all__ = ["latest", "point_latest", "prune", "publish_run", "publish_snapshot"]

_STALE_TMP_S = 3600  # a temporary directory this old was left by a crashed export


def point_latest(root: Path, run_dir: Path) -> Path:
    """Point `root/latest` at `run_dir` (a directory in `root`) with an atomic rename."""
    if run_dir.parent.resolve() != root.resolve():
        raise ReelrankError(f"{run_dir} is not a run directory of {root}")
    link = root / "latest"
    tmp = root / f".latest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)
    return link


def latest(root: Path) -> Path | None:
    link = root / "latest"
    return link.resolve() if link.exists() else None


def publish_snapshot(root: Path, snapshot: Path) -> Path:
    """Make `snapshot` (a finished snapshot directory in `root`) the live one."""
    if snapshot.parent.resolve() != root.resolve() or not (snapshot / MANIFEST).is_file():
        raise ReelrankError(f"{snapshot} is not a finished snapshot in {root}")
    return point_latest(root, snapshot)


def _validate_feeds(run_dir: Path, expected_parts: int) -> int:
    parts = sorted(run_dir.glob("part-*.parquet"))
    if len(parts) != expected_parts:
        raise ReelrankError(f"{run_dir}: expected {expected_parts} feed parts, found "
                            f"{len(parts)}; not publishing")
    rows = 0
    for part in parts:
        try:
            frame = pl.read_parquet(part)
        except pl.exceptions.PolarsError as exc:
            raise ReelrankError(f"{part} is not readable ({exc}); not publishing") from exc
        if tuple(frame.columns) != FEED_COLUMNS:
            raise ReelrankError(f"{part} has columns {frame.columns}, expected "
                                f"{list(FEED_COLUMNS)}; not publishing")
        rows += frame.height
    return rows


def publish_run(feeds_root: Path, run_dir: Path, *, expected_parts: int,
                manifest: dict[str, object]) -> Path:
    """Validate the feeds in `run_dir`, write their manifest, and make them the live ones."""
    rows = _validate_feeds(run_dir, expected_parts)
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "rows": rows}, indent=2,
                                                      default=str))
    return point_latest(feeds_root, run_dir)


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` run directories in `root` (the one `latest` points
    at is always kept), and temporary directories an interrupted export left behind."""
    live = latest(root)
    runs = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                   and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime,
                  reverse=True)
    stale = [p for p in runs[keep:] if p.resolve() != live]
    stale += [p for p in root.glob(".tmp-*") if p.is_dir()
              and time.time() - p.stat().st_mtime > _STALE_TMP_S]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale
