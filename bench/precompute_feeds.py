"""Precompute feed pages for a home's live snapshot with the real batch scorer, as the
nightly job does, for homes built without it (bench/scale_snapshot.py).

    .venv/bin/python bench/precompute_feeds.py --home bench/out/scale-1m --users 20000

Scores a seeded sample of --users active users (all of them with --users 0) through
`ranking.batch.score_shard`, writes HOME/feeds/<snapshot>/part-0000.parquet and publishes
it as HOME/feeds/latest, so the API serves those users precomputed pages. A home whose
nightly job already wrote feeds for the snapshot is left alone unless --replace is given
(a rerun replaces this script's own). --smoke: 50 users of a copy of the tiny home (`bench/_smoke.py`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _smoke import copy_of_tiny_home, parse_args

from ranking.batch import score_shard
from ranking.engine import Engine
from ranking.publish import publish_run
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome

BY = "bench/precompute_feeds.py"  # in the feeds' manifest: a rerun may replace them


def _written_by(run: Path) -> str | None:
    try:
        return json.loads((run / "manifest.json").read_text()).get("by")
    except (OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None,
                        help="a home with snapshots/latest (--smoke: a copy of the tiny one)")
    parser.add_argument("--users", type=int, default=20_000, help="0: every active user")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replace", action="store_true",
                        help="replace feeds already written for the snapshot")
    args = parse_args(parser, {"users": 50, "replace": True})
    if args.home is not None:
        _run(args, DataHome.open(args.home))
    elif not args.smoke:
        parser.error("--home is required (or --smoke)")
    else:
        with tempfile.TemporaryDirectory(prefix="reelrank-precompute-") as scratch:
            _run(args, DataHome.open(copy_of_tiny_home(Path(scratch) / "home")))


def _run(args: argparse.Namespace, home: DataHome) -> None:
    started = time.perf_counter()
    snap = ServingSnapshot.load(home.dir("snapshots") / "latest")
    engine = Engine.load(snap, home.settings)
    print(f"loaded {snap.directory.name} in {time.perf_counter() - started:.1f}s")
    users = snap.active_users()
    if args.users:
        users = users.sample(min(args.users, users.len()), seed=args.seed).sort()
    run = home.dir("feeds") / snap.directory.name
    parts = sorted(run.glob("part-*.parquet"))
    if parts and not args.replace and _written_by(run) != BY:
        raise SystemExit(f"{run} already holds {len(parts)} feed part(s) for this snapshot, "
                         "not written by this script (the nightly job's?); --replace "
                         "replaces them with this sample")
    for part in parts:
        part.unlink()
    control = home.control()
    started = time.perf_counter()
    try:
        report = score_shard(engine, control, users, shard=0, out_dir=run, progress=print)
    finally:
        control.close()
    took = time.perf_counter() - started
    publish_run(home.dir("feeds"), run, expected_parts=1,
                manifest={"snapshot": snap.directory.name, "shards": 1, "by": BY})
    print(f"{report.users:,} users, {report.rows:,} rows in {took:.0f}s "
          f"({report.users / took:.0f} users/s); published {run}")


if __name__ == "__main__":
    main()
