"""The control store's hot operations on SQLite and on PostgreSQL: what one feed request asks
of it, per second and in latency, from 1 and from several processes at once.

    .venv/bin/python bench/bench_control.py [--postgres-url URL] [--processes 1 2 4]
        [--seconds 5] [--repeats 3] [--json]

Operations (each on a store holding `--grants` live cameo grants):
  policy    one request's read of the user's live state (`policy.read_live`: settings,
            guardian rules, blocks, own controls, served today, in one read transaction)
  consent   the live grants to one page's 20 creators (`grants.live_to`): every page
  claim     a supervised user's scroll claim (`policy.claim_served`: read the count and
            the limit, add, in one write transaction: the store-wide write lock)
  history   one page's 20 served-history rows in one transaction (what the API's history
            writer commits per batch)

Without `--postgres-url` a throwaway PostgreSQL server is started with `.ci/postgres`
(where one is installed), with fsync on; `--smoke` (a fraction of a second per figure) uses
`REELRANK_TEST_POSTGRES_URL` when set and else SQLite alone. Each figure is the median of `--repeats` runs of `--seconds`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _smoke import parse_args

from ranking.policy import claim_served, read_live
from reelrank.control.connection import connect, transaction
from reelrank.control.grants import grant, live_to
from reelrank.control.guardians import link, update_rules
from reelrank.control.history import record

OPERATIONS = ("policy", "consent", "claim", "history")


def _prepare(target: str, grants: int, users: int) -> None:
    con = connect(target)
    now = datetime.now(UTC)
    with transaction(con):
        for n in range(grants):
            grant(con, f"o{n % 5000}", f"c{n // 5000}-{n % 997}", now=now)
    for n in range(users):
        link(con, f"parent{n}", f"kid{n}", now=now)
        update_rules(con, f"kid{n}", {"scroll_limit": 1_000_000_000}, now=now)
    con.close()


def _worker(target: str, operation: str, seconds: float, worker: int,
            out: mp.Queue) -> None:
    con = connect(target)
    creators = [f"c{k}-{j}" for k in range(2) for j in range(10)]
    latencies: list[float] = []
    n, deadline = 0, time.perf_counter() + seconds
    now = datetime.now(UTC)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        kid = f"kid{(worker * 7919 + n) % 64}"
        if operation == "policy":
            read_live(con, [kid], now)
        elif operation == "consent":
            live_to(con, creators)
        elif operation == "claim":
            claim_served(con, read_live(con, [kid], now).policies[kid], 20, now)
        else:
            rid = uuid.uuid4().hex
            rows = [(f"u{worker}", f"i{n}-{p}", now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), rid, p)
                    for p in range(1, 21)]
            with transaction(con):
                record(con, rows)
        latencies.append(time.perf_counter() - started)
        n += 1
    con.close()
    out.put(latencies)


def _run(target: str, operation: str, processes: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(target, operation, seconds, w, out))
             for w in range(processes)]
    for p in procs:
        p.start()
    lat = [x for _ in procs for x in out.get()]
    for p in procs:
        p.join()
    lat.sort()
    return {"per_s": len(lat) / seconds, "p50_ms": lat[len(lat) // 2] * 1e3,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1e3}


def _postgres(args: argparse.Namespace, stack: list[str]) -> str | None:
    if args.postgres_url:
        return args.postgres_url
    if args.smoke:
        return os.environ.get("REELRANK_TEST_POSTGRES_URL")
    directory = tempfile.mkdtemp(prefix="reelrank-bench-pg-")
    # fsync on, as SQLite's synchronous=FULL is: a commit is on disk when acknowledged.
    url = subprocess.run([str(ROOT / ".ci" / "postgres"), "start", directory], check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "PG_FSYNC": "on"}).stdout.strip()
    stack.append(directory)
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parse_args(parser, {"processes": [1], "seconds": 0.2, "repeats": 1, "grants": 300,
                               "json": True})
    started: list[str] = []
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets = {"sqlite": str(Path(tmp) / "control.sqlite")}
            pg = _postgres(args, started)
            if pg is not None:
                import psycopg

                schema = f"bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(pg, autocommit=True) as admin:
                    admin.execute(f"CREATE SCHEMA {schema}")
                sep = "&" if "?" in pg else "?"
                targets["postgresql"] = f"{pg}{sep}options=-csearch_path%3D{schema}"
            for backend, target in targets.items():
                print(f"{backend}: preparing {args.grants} grants", file=sys.stderr)
                _prepare(target, args.grants, 64)
                for operation in OPERATIONS:
                    for processes in args.processes:
                        runs = [_run(target, operation, processes, args.seconds)
                                for _ in range(args.repeats)]
                        figure = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                        results.setdefault(backend, {}).setdefault(operation, {})[
                            str(processes)] = figure
                        print(f"{backend} {operation} x{processes}: {figure['per_s']:.0f}/s "
                              f"p50 {figure['p50_ms']:.2f} ms p99 {figure['p99_ms']:.2f} ms",
                              file=sys.stderr)
    finally:
        for directory in started:
            subprocess.run([str(ROOT / ".ci" / "postgres"), "stop", directory], check=False)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
