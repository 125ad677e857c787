"""Publishing: make a finished run's serving snapshot and feeds the live ones, and prune old
runs.

Every run writes into its own directory; `point_latest` repoints `root/latest` with an atomic
rename of a symlink, so readers see the old run or the new one, never a half-written mix, and
appends the run's name to `root/.published`. Snapshots and feeds are both published through
it. A run whose files fail validation is refused, and the previous `latest` stays live.

Pruning keeps the newest `keep` published runs, the one `latest` points at, every run a live
server says it serves (a lease file in `root/.serving/`, refreshed while it serves), and the
newest run a server loaded and verified (`root/.good/`), so a corrupt `latest` never takes
the last good snapshot with it. Runs that were written but never published (a crash between
export and publish) do not count toward `keep`; once a newer run is published they go.
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

__all__ = [
    "good_runs", "hold", "latest", "mark_good", "point_latest", "prune", "publish_run",
    "publish_snapshot", "published", "release",
]

_STALE_TMP_S = 3600  # a temporary directory this old was left by a crashed export
_PUBLISHED, _LEASES, _GOOD = ".published", ".serving", ".good"
_LEASE_MIN_S = 300.0  # a lease not refreshed for max(this, 3 polls) belongs to a dead server


def point_latest(root: Path, run_dir: Path) -> Path:
    """Point `root/latest` at `run_dir` (a directory in `root`) with an atomic rename."""
    if run_dir.parent.resolve() != root.resolve():
        raise ReelrankError(f"{run_dir} is not a run directory of {root}")
    link = root / "latest"
    tmp = root / f".latest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)
    with (root / _PUBLISHED).open("a", encoding="utf-8") as log:
        log.write(run_dir.name + "\n")
    return link


def published(root: Path) -> list[str] | None:
    """Names of the runs published in `root`, oldest first (None: a home from before the
    log was kept)."""
    try:
        names = (root / _PUBLISHED).read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return None
    return list(dict.fromkeys(reversed(names)))[::-1]


def hold(root: Path, name: str, every_s: float, holder: str) -> Path:
    """Record (or refresh) that `holder` (a server process) serves run `name`."""
    leases = root / _LEASES
    leases.mkdir(exist_ok=True)
    lease = leases / f"{holder}.json"
    tmp = leases / f".{holder}.{uuid.uuid4().hex[:6]}"
    tmp.write_text(json.dumps({"run": name, "every_s": every_s}))
    os.replace(tmp, lease)
    return lease


def release(lease: Path) -> None:
    lease.unlink(missing_ok=True)


def _held(root: Path, now: float) -> set[str]:
    out = set()
    for lease in (root / _LEASES).glob("*.json") if (root / _LEASES).is_dir() else ():
        try:
            data = json.loads(lease.read_text())
            fresh = now - lease.stat().st_mtime <= max(_LEASE_MIN_S, 3 * float(data["every_s"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a lease being replaced, or garbage: it holds nothing
        if fresh:
            out.add(str(data["run"]))
        else:
            lease.unlink(missing_ok=True)
    return out


def mark_good(root: Path, name: str) -> None:
    """Record that run `name` was loaded and verified whole."""
    (root / _GOOD).mkdir(exist_ok=True)
    (root / _GOOD / name).touch()


def good_runs(root: Path) -> list[str]:
    """Runs a server loaded and verified, newest mark first."""
    marks = root / _GOOD
    if not marks.is_dir():
        return []
    return [p.name for p in sorted(marks.iterdir(), key=lambda p: p.stat().st_mtime,
                                   reverse=True)]


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


def prune(root: Path, keep: int, also_keep: set[str] = frozenset()) -> list[Path]:
    """Remove old run directories in `root` (see the module docstring for what is kept;
    `also_keep`: names kept besides, e.g. the feeds of kept snapshots), and temporary
    directories an interrupted export left behind. Returns what was removed."""
    now = time.time()
    live = latest(root)
    runs = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                   and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime,
                  reverse=True)
    order = published(root)
    if order is None:  # no log yet: every run counts as published
        ranked, leftovers = runs, []
    else:
        by_name = {p.name: p for p in runs}
        ranked = [by_name[n] for n in reversed(order) if n in by_name]
        newest = max((p.stat().st_mtime for p in ranked), default=None)
        leftovers = [p for p in runs if p.name not in set(order) and newest is not None
                     and p.stat().st_mtime < newest]
    held = _held(root, now) | set(also_keep)
    good = next((n for n in good_runs(root) if (root / n).is_dir()), None)
    kept = {p.name for p in ranked[:keep]} | held | ({good} if good else set())
    stale = [p for p in ranked[keep:] + leftovers
             if p.name not in kept and (live is None or p.resolve() != live)]
    stale += [p for p in root.glob(".tmp-*") if p.is_dir()
              and now - p.stat().st_mtime > _STALE_TMP_S]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
        (root / _GOOD / path.name).unlink(missing_ok=True)
        (root / ".verified" / f"{path.name}.json").unlink(missing_ok=True)
    return stale
