"""Benchmark: ranking one user in-process (p50/p99) and batch scoring throughput.

    .venv/bin/python bench/bench_ranking.py --home .reelrank --users 200 --batch 2000

Uses a home that `reelrank run` has already built (features, ranker, indexes). Single-user
latency is `rank_users` for one user at a time, warm (connection open, artifacts loaded),
over --users random users; batch throughput ranks --batch users in one call, median of
--repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import polars as pl

from features.snapshot import serving_as_of
from ranking.context import RankContext
from ranking.filters.consent import live_grants
from ranking.pipeline import Retrieval, rank_users
from ranking.training import current_ranker
from reelrank.home import DataHome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".reelrank"))
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    home = DataHome.open(args.home)
    con = home.warehouse(read_only=True)
    control = home.control()
    ranker = current_ranker(home.dir("models"))
    retrieval = Retrieval.load(home.dir("indexes"))
    grants = live_grants(control)
    as_of = serving_as_of(con)
    everyone = con.sql("SELECT DISTINCT user_id FROM engagement_daily ORDER BY 1").pl()["user_id"]
    rng = np.random.default_rng(args.seed)
    picks = everyone.sample(min(args.users, everyone.len()), seed=int(rng.integers(1 << 31)))

    def rank(users: pl.Series) -> None:
        rank_users(RankContext(con, home.settings, as_of, users), ranker=ranker,
                   retrieval=retrieval, grants=grants)

    rank(picks[:1])  # warm caches
    latencies = []
    for user in picks:
        started = time.perf_counter()
        rank(pl.Series("user_id", [user], dtype=everyone.dtype))
        latencies.append((time.perf_counter() - started) * 1000)
    batch = everyone[: args.batch]
    throughput = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        rank(batch)
        throughput.append(batch.len() / (time.perf_counter() - started))
    (items,) = con.execute("SELECT count(*) FROM items").fetchall()[0]
    report = {"items": items, "users_timed": len(latencies),
              "single_user_ms": {"p50": float(np.percentile(latencies, 50)),
                                 "p99": float(np.percentile(latencies, 99))},
              "batch_users": batch.len(),
              "batch_users_per_s_median": statistics.median(throughput)}
    print(json.dumps(report, indent=2))
    print("\n| catalog | one user p50 | one user p99 | batch users/s |\n| --- | --- | --- | --- |")
    print(f"| {items:,} items | {report['single_user_ms']['p50']:.0f} ms | "
          f"{report['single_user_ms']['p99']:.0f} ms | {report['batch_users_per_s_median']:.0f} |")


if __name__ == "__main__":
    main()
