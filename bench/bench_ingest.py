"""Benchmark: `simulate` and `ingest` of a synthetic world.

    .venv/bin/python bench/bench_ingest.py --users 100000 --days 30 --repeats 3

Prints a JSON object and a Markdown table row per phase (median of --repeats fresh-process
runs; peak RSS of the phase's process). Figures in the README come from this script.
--smoke: 200 users x 3 days, once (seconds).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from _measure import measure
from _smoke import parse_args

SIMULATE = """
import json
from pathlib import Path
from reelrank.simulate import simulate
s = simulate(Path({out!r}), users={users}, days={days}, seed={seed}, overwrite=True)
print(json.dumps({{"rows": sum(s.counts.values()), "events": s.counts["events"]}}))
"""

INGEST = """
import json
from pathlib import Path
from reelrank.home import DataHome
from reelrank.ingest import ingest_directory
r = ingest_directory(DataHome.open({home!r}), Path({world!r}))
print(json.dumps({{"rows": sum(t.read for t in r.tables), "loaded": r.loaded,
                  "quarantined": r.quarantined}}))
"""

CLEAN_HOME = "import shutil; shutil.rmtree({home!r}, ignore_errors=True)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parse_args(parser, {"users": 200, "days": 3, "repeats": 1})
    work = args.workdir or Path(tempfile.mkdtemp(prefix="reelrank-bench-"))
    world, home = work / "world", work / "home"
    try:
        sim = measure(SIMULATE.format(out=str(world), users=args.users, days=args.days,
                                      seed=args.seed), args.repeats)
        ing = measure(INGEST.format(home=str(home), world=str(world)), args.repeats,
                      setup=[CLEAN_HOME.format(home=str(home))])
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    report = {"users": args.users, "days": args.days, "simulate": sim, "ingest": ing}
    print(json.dumps(report, indent=2))
    print("\n| phase | users x days | rows | median wall | rows/s | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in (("simulate", sim), ("ingest", ing)):
        print(f"| {name} | {args.users:,} x {args.days} | {r['rows']:,} | "
              f"{r['wall_s_median']:.1f} s | {r['rows'] / r['wall_s_median']:,.0f} | "
              f"{r['peak_rss_mb_median']:,.0f} MB |")


if __name__ == "__main__":
    main()
