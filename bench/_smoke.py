"""`--smoke` for the benchmark scripts: the same code path at tiny sizes, in seconds, so
`make test` (`tests/test_bench_smoke.py`) notices when a script stops running.

`parse_args(parser, smoke_defaults)` adds `--smoke`; with it, the script's defaults become the
tiny ones (flags given explicitly still win). Scripts that need a data home with a published
snapshot share one tiny home (`tiny_home()`): the home named by `REELRANK_BENCH_SMOKE_HOME`
if set (the test suite passes its session's scored home), else one built here once (500
users x 9 days, hashing embedder, about 25 s) and cached under `REELRANK_BENCH_SMOKE_CACHE`
(default: the system temporary directory), keyed by its parameters and the project's
source, so a code change gets a fresh one. A script that writes into the home works on a
private copy (`copy_of_tiny_home`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["copy_of_tiny_home", "parse_args", "tiny_home"]

REPO = Path(__file__).resolve().parent.parent
# What builds the tiny home: a change here rebuilds it.
_SOURCES = ("reelrank", "features", "ranking", "pipelines", "cli")
TINY = {"users": 500, "days": 9, "seed": 5}   # conftest's scored_home, so both agree
_STALE_S = 2 * 86400                          # cached homes unused this long are removed


def parse_args(parser: argparse.ArgumentParser, smoke_defaults: dict[str, object],
               argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse with `--smoke` added; under it, `smoke_defaults` replace the defaults."""
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, a few seconds: check the script still runs "
                        f"({', '.join(f'{k}={v}' for k, v in smoke_defaults.items())})")
    args = parser.parse_args(argv)
    if args.smoke:
        parser.set_defaults(**smoke_defaults)
        args = parser.parse_args(argv)
    return args


def _say(message: str) -> None:
    print(f"[smoke] {message}", file=sys.stderr, flush=True)


def _source_key() -> str:
    digest = hashlib.sha256(repr(sorted(TINY.items())).encode())
    for package in _SOURCES:
        for path in sorted((REPO / package).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_root() -> Path:
    default = Path(tempfile.gettempdir()) / f"reelrank-bench-smoke-{os.getuid()}"
    return Path(os.environ.get("REELRANK_BENCH_SMOKE_CACHE") or default)


def _prune(root: Path, keep: Path) -> None:
    for entry in root.glob("home-*"):
        ready = entry / "ready"
        if entry != keep and entry.is_dir() and ready.is_file() \
                and time.time() - ready.stat().st_mtime > _STALE_S:
            shutil.rmtree(entry, ignore_errors=True)


def tiny_home() -> Path:
    """A data home with a published snapshot and precomputed feeds; treat it as read-only."""
    given = os.environ.get("REELRANK_BENCH_SMOKE_HOME")
    if given:
        home = Path(given)
        if not (home / "snapshots" / "latest" / "manifest.json").is_file():
            raise SystemExit(f"REELRANK_BENCH_SMOKE_HOME={given}: no snapshots/latest there")
        return home
    from filelock import FileLock

    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    entry = root / f"home-{_source_key()}"
    with FileLock(str(entry) + ".lock", timeout=600):
        if not (entry / "ready").is_file():
            shutil.rmtree(entry, ignore_errors=True)   # a build that was interrupted
            _build(entry / "home")
            (entry / "ready").touch()
        os.utime(entry / "ready")
    _prune(root, entry)
    return entry / "home"


def _build(path: Path) -> None:
    from cli.runner import run_nightly
    from pipelines.resources import EmbedderResource
    from reelrank.home import DataHome

    _say(f"building the tiny home in {path} ({TINY['users']} users x {TINY['days']} days)")
    started = time.perf_counter()
    summary = run_nightly(DataHome.open(path), **TINY,
                          embedder=EmbedderResource(backend="hashing"))
    if not summary.success:
        raise SystemExit(f"building the tiny home failed:\n{summary.render()}")
    _say(f"tiny home built in {time.perf_counter() - started:.0f}s")


def copy_of_tiny_home(target: Path) -> Path:
    """A private copy of `tiny_home()` at `target`, for scripts that write into a home."""
    shutil.copytree(tiny_home(), target, symlinks=True,
                    ignore=shutil.ignore_patterns("write.lock", "dagster"))
    return target
