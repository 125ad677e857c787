"""Batch scoring's shard steps in 1 and in N processes on one host, on a published snapshot:
the part of the score job that `reelrank run --processes N` runs in parallel, without the
snapshot export and publishing around it (`bench_processes.py` times the whole job).

    .venv/bin/python bench/bench_shards.py --home H [--users 3000] [--processes 1,2]
        [--repeats 3] [--smoke]

For each process count P, P fresh processes (spawned, as the executor's step processes are)
each load the engine from `HOME/snapshots/latest` and score a disjoint 1/P of the same
`--users` active users with `ranking.batch.score_shard`, the shard step's own function,
writing their feeds to a scratch directory. Reported per P (medians of `--repeats`): the
wall time from the start to the last process's end (loads included), the scoring alone
(the slowest process's, from its engine loaded to its feeds written), users/s for both, and the speedup
over the first P. The home is only read (its control store for the live state).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _smoke import parse_args, tiny_home


def _shard(home_root: str, users: list, shard: int, out_dir: str, started: float,
           queue: mp.Queue) -> None:
    """One step process: load, then score `users` as shard `shard`."""
    import polars as pl

    from ranking.batch import score_shard
    from ranking.engine import Engine
    from ranking.snapshot.reader import ServingSnapshot
    from reelrank.home import DataHome

    home = DataHome.open(home_root)
    engine = Engine.load(ServingSnapshot.load(home.dir("snapshots") / "latest"), home.settings)
    loaded = time.time()
    control = home.control(read_only=True)
    try:
        report = score_shard(engine, control, pl.Series("user_id", users), shard=shard,
                             out_dir=Path(out_dir))
    finally:
        control.close()
    queue.put({"shard": shard, "load_s": loaded - started, "loaded": loaded,
               "ended": time.time(), "users": report.users, "rows": report.rows})


def _once(home: Path, users: list, processes: int) -> dict:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    with tempfile.TemporaryDirectory(prefix="reelrank-shards-") as out_dir:
        started = time.time()
        procs = [ctx.Process(target=_shard, args=(str(home), users[k::processes], k, out_dir,
                                                  started, queue))
                 for k in range(processes)]
        for proc in procs:
            proc.start()
        reports = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise SystemExit(f"a shard process exited with {proc.exitcode}")
    ended = max(r["ended"] for r in reports)
    return {"wall_s": ended - started,
            "score_s": max(r["ended"] - r["loaded"] for r in reports),
            "load_s": max(r["load_s"] for r in reports),
            "users": sum(r["users"] for r in reports), "rows": sum(r["rows"] for r in reports)}


def _sample(home: Path, n: int) -> list:
    from ranking.snapshot.reader import ServingSnapshot

    active = ServingSnapshot.load(home / "snapshots" / "latest").active_users()
    return active.sample(min(n, active.len()), seed=0).to_list()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    args = parse_args(parser, {"users": 60, "repeats": 1})
    home = tiny_home() if args.smoke or args.home is None else args.home.resolve()
    users = _sample(home, args.users)
    out: dict = {"home": str(home), "users": len(users), "runs": {}}
    for processes in (int(p) for p in args.processes.split(",")):
        runs = []
        for r in range(args.repeats):
            runs.append(_once(home, users, processes))
            print(f"processes {processes}, run {r + 1}: {runs[-1]['wall_s']:.1f} s wall, "
                  f"{runs[-1]['score_s']:.1f} s scoring", file=sys.stderr)
        figure = {k: statistics.median(run[k] for run in runs)
                  for k in ("wall_s", "score_s", "load_s")}
        figure.update(users_per_s_wall=len(users) / figure["wall_s"],
                      users_per_s_scoring=len(users) / figure["score_s"],
                      wall_s_all=[round(run["wall_s"], 2) for run in runs])
        out["runs"][processes] = figure
    first = next(iter(out["runs"].values()))
    out["speedup"] = {p: {"wall": round(first["wall_s"] / f["wall_s"], 2),
                          "scoring": round(first["score_s"] / f["score_s"], 2)}
                      for p, f in out["runs"].items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
