"""Benchmark: generation jobs/s through the queue, with K real worker processes.

    .venv/bin/python bench/bench_generation.py --jobs 200 --workers 1 2 --repeats 3

Per backend (`stub`: the scripted test backend, instant, so the figure is the queue itself:
claim, lease renewal thread, consent check, publish transaction; `procedural`: the bundled
GIF renderer), per worker count, per repeat: a fresh data home gets N free requests, whose
`not_before` is set a few seconds ahead so the K workers (started at once, with the hashing
embedder) are all up and polling before any job is due. Throughput is N over the time from
that instant to the last job's completion, so process start-up is not counted. Median of the
repeats; every job must end done exactly once or the run fails. --smoke: 5 jobs, one
worker, once per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _smoke import parse_args

from generation._common import utc_now
from generation.requests import submit_generation
from reelrank.control.items import new_generated_items
from reelrank.control.queue import hold_queued, last_update, status_counts
from reelrank.control.tokens import create_token
from reelrank.home import DataHome
from reelrank.settings import Settings

BACKENDS = {"stub": "generation.stubs:ScriptedBackend", "procedural": "procedural"}
GATE_S = 2.5


def _one_run(root: Path, backend: str, jobs: int, workers: int) -> float:
    home = DataHome.open(root, settings=Settings(home=root, generation_busy_queue_depth=10**6))
    con = home.control()
    for n in range(50):  # requesters must be accounts of the home
        create_token(con, "user", f"u{n}", now=utc_now(), label="bench")
    for n in range(jobs):
        submit_generation(con, home.settings, requester_id=f"u{n % 50}",
                          prompt=f"benchmark clip {n}: a paper boat in the rain")
    gate = utc_now() + timedelta(seconds=GATE_S)
    hold_queued(con, gate)
    env = {**os.environ, "REELRANK_GENERATION_BACKEND": BACKENDS[backend]}
    procs = [subprocess.Popen([sys.executable, "-m", "generation", "--home", str(root),
                               "--embedder", "hashing", "--poll-s", "0.01"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        while True:
            left = sum(n for status, n in status_counts(con).items() if status != "done")
            if left == 0:
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker exited early")
            time.sleep(0.05)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
    made = new_generated_items(con, limit=jobs + 1)
    items, distinct = len(made), len({r["request_id"] for r in made})
    if items != jobs or distinct != jobs:
        raise RuntimeError(f"{items} items for {jobs} jobs ({distinct} distinct)")
    last = last_update(con)
    con.close()
    return jobs / (last - gate).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=sorted(BACKENDS),
                        default=["stub", "procedural"])
    args = parse_args(parser, {"jobs": 5, "workers": [1], "repeats": 1})
    results = []
    for backend in args.backends:
        for workers in args.workers:
            rates = []
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
                    rates.append(_one_run(Path(tmp) / "home", backend, args.jobs, workers))
            results.append({"backend": backend, "workers": workers, "jobs": args.jobs,
                            "jobs_per_s_median": statistics.median(rates),
                            "jobs_per_s_all": rates})
    print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))
    print("\n| backend | workers | jobs | jobs/s (median) |\n| --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['backend']} | {r['workers']} | {r['jobs']} | "
              f"{r['jobs_per_s_median']:.0f} |")


if __name__ == "__main__":
    main()
