"""Batch scoring in one process against N processes (Dagster's multiprocess executor): wall
time of the score job (snapshot export, every shard's feeds, publishing) and users/s.

    .venv/bin/python bench/bench_processes.py --home H [--processes 1,2] [--repeats 3]
        [--smoke]

Each repeat runs the whole score job on the home as it is (`cli.runner.score_feeds`), so
each writes and publishes a new snapshot and feeds run: use a copy of a home you care about.
Medians of `--repeats` runs per process count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _smoke import copy_of_tiny_home, parse_args

from cli.runner import score_feeds
from reelrank.home import DataHome


def _users(home: DataHome) -> int:
    import polars as pl

    latest = (home.dir("feeds") / "latest").resolve()
    return pl.scan_parquet(latest / "*.parquet").select(pl.col("user_id").n_unique()
                                                        ).collect().item()


def _measure(args: argparse.Namespace, home: DataHome) -> dict:
    counts = [int(n) for n in args.processes.split(",")]
    out = {"home": str(home.root), "shards": home.settings.batch_shards, "runs": {}}
    for n in counts:
        times = []
        for r in range(args.repeats):
            started = time.perf_counter()
            result = score_feeds(home, processes=n)
            if not result.success:
                raise SystemExit(f"score job failed with {n} processes")
            times.append(time.perf_counter() - started)
            print(f"processes {n}, run {r + 1}: {times[-1]:.1f} s", file=sys.stderr)
        users = _users(home)
        median = statistics.median(times)
        out["runs"][n] = {"seconds": [round(t, 2) for t in times],
                          "median_s": round(median, 2), "users": users,
                          "users_per_s": round(users / median, 1)}
    base = out["runs"][counts[0]]["median_s"]
    out["speedup"] = {n: round(base / r["median_s"], 2) for n, r in out["runs"].items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    args = parse_args(parser, {"repeats": 1})
    if args.smoke or args.home is None:
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(_measure(args, DataHome.open(
                copy_of_tiny_home(Path(scratch) / "home"))), indent=1))
        return
    print(json.dumps(_measure(args, DataHome.open(args.home)), indent=1))


if __name__ == "__main__":
    main()
