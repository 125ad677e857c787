"""Benchmark: build every engagement and location feature from the event log.

    .venv/bin/python bench/bench_features.py --events 10M 50M --repeats 3

For each size it makes (once, cached under --workdir) a synthetic world of about that many
events and ingests it; then, in fresh processes, times the daily rollup of every day plus
all feature snapshot tables (user, item, creator, user x creator, user x topic, home
region, regional popularity), reporting the median wall time and peak RSS. --smoke: about
30k events (1,000 users x 3 days) in a scratch directory, once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import measure
from _smoke import parse_args

# Events per user-day in the synthetic world (measured: ~10.2 at the default config).
EVENTS_PER_USER_DAY = 10.2
DAYS = 30  # of the world's log, unless --days

BUILD = """
import json, time
from reelrank.home import DataHome
from features.engagement import rollup_days
from features.snapshot import SNAPSHOT_TABLES, SnapshotParams, build_table, serving_as_of
home = DataHome.open({home!r})
con = home.warehouse()
con.execute("DROP TABLE IF EXISTS engagement_daily")
for table in SNAPSHOT_TABLES.values():
    con.execute(f"DROP TABLE IF EXISTS {{table}}")
days = [r[0] for r in con.execute("SELECT DISTINCT ts::DATE FROM events").fetchall()]
(events,) = con.execute("SELECT count(*) FROM events").fetchall()[0]
stages = {{}}
started = time.perf_counter()
rows = rollup_days(con, days)
stages["rollup"] = time.perf_counter() - started
as_of = serving_as_of(con)
for name in SNAPSHOT_TABLES:
    t = time.perf_counter()
    build_table(con, name, as_of, SnapshotParams.from_settings(home.settings))
    stages[name] = time.perf_counter() - t
stages["total"] = time.perf_counter() - started
print(json.dumps({{"events": events, "rollup_rows": rows, "stages": stages}}))
"""


def _size(text: str) -> int:
    text = text.upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def _world(workdir: Path, events: int, days: int) -> Path:
    users = max(1_000, round(events / (EVENTS_PER_USER_DAY * days)))
    home = workdir / f"home-{users}x{days}"
    if (home / "ready").is_file():
        return home
    world = workdir / f"world-{users}x{days}"
    reelrank = [sys.executable, "-m", "cli.main"]
    if not (world / "world.json").is_file():
        subprocess.run([*reelrank, "simulate", "--out", str(world), "--users", str(users),
                        "--days", str(days), "--seed", "1", "--overwrite"], check=True)
    subprocess.run([*reelrank, "ingest", str(world), "--home", str(home)], check=True)
    (home / "ready").touch()
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", nargs="+", default=["10M", "50M"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--days", type=int, default=DAYS, help="days of the world's log")
    parser.add_argument("--workdir", type=Path, default=Path("bench/out/features"))
    # --smoke: a 1,000-user, 3-day world (about 30k events) in a scratch directory.
    args = parse_args(parser, {"events": ["30K"], "days": 3, "repeats": 1, "workdir": None})
    if args.workdir is not None:
        _run(args, args.workdir)
        return
    with tempfile.TemporaryDirectory(prefix="reelrank-bench-features-") as scratch:
        _run(args, Path(scratch))


def _run(args: argparse.Namespace, workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.events:
        home = _world(workdir, _size(size), args.days)
        result = measure(BUILD.format(home=str(home)), args.repeats)
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
    print("\n| events | rollup rows | median wall (all features) | rollup | user x creator "
          "| peak RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        s = r["stages"]
        print(f"| {r['events']:,} | {r['rollup_rows']:,} | {r['wall_s_median']:.1f} s "
              f"(build {s['total']:.1f} s) | {s['rollup']:.1f} s | {s['user_creator']:.1f} s "
              f"| {r['peak_rss_mb_median']:,.0f} MB |")


if __name__ == "__main__":
    main()
