"""Precompute feed pages for a home's live snapshot with the real batch scorer, as the
nightly job does, for homes built without it (bench/scale_snapshot.py).

    .venv/bin/python bench/precompute_feeds.py --home bench/out/scale-1m --users 20000

Scores a seeded sample of --users active users (all of them with --users 0) through
`ranking.batch.score_shard`, writes HOME/feeds/<snapshot>/part-0000.parquet and publishes
it as HOME/feeds/latest, so the API serves those users precomputed pages.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ranking.batch import score_shard
from ranking.engine import Engine
from ranking.publish import publish_run
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--users", type=int, default=20_000, help="0: every active user")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    home = DataHome.open(args.home)
    started = time.perf_counter()
    snap = ServingSnapshot.load(home.dir("snapshots") / "latest")
    engine = Engine.load(snap, home.settings)
    print(f"loaded {snap.directory.name} in {time.perf_counter() - started:.1f}s")
    users = snap.active_users()
    if args.users:
        users = users.sample(min(args.users, users.len()), seed=args.seed).sort()
    run = home.dir("feeds") / snap.directory.name
    control = home.control()
    started = time.perf_counter()
    try:
        report = score_shard(engine, control, users, shard=0, out_dir=run, progress=print)
    finally:
        control.close()
    took = time.perf_counter() - started
    publish_run(home.dir("feeds"), run, expected_parts=1,
                manifest={"snapshot": snap.directory.name, "shards": 1})
    print(f"{report.users:,} users, {report.rows:,} rows in {took:.0f}s "
          f"({report.users / took:.0f} users/s); published {run}")


if __name__ == "__main__":
    main()
