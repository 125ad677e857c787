"""Publishing: make a finished run's feeds (and its serving artifacts) the live ones.

A run writes into its own directory; publishing repoints `latest` with an atomic rename of
a symlink, so readers see the old run or the new one, never a half-written mix. A run whose
files fail validation is refused, and the previous `latest` stays live.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from ranking.batch import FEED_COLUMNS
from reelrank.errors import ReelrankError

__all__ = ["latest", "publish_run"]


def _validate(run_dir: Path, expected_parts: int) -> int:
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
    """Validate `run_dir`, write its manifest, and point `feeds_root/latest` at it."""
    rows = _validate(run_dir, expected_parts)
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "rows": rows}, indent=2,
                                                      default=str))
    link = feeds_root / "latest"
    tmp = feeds_root / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)
    return link


def latest(feeds_root: Path) -> Path | None:
    link = feeds_root / "latest"
    return link.resolve() if link.exists() else None
