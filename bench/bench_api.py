"""Benchmark: GET /v1/feed under an open-loop load, against a real `reelrank serve`.

    .venv/bin/python bench/bench_api.py --home bench/out/scale-1m --rate 200 --duration 30 \
        [--workers 2] [--precomputed | --online]

Starts the server on HOME (a free port on 127.0.0.1; `--workers N` server processes, each
waited for until its /readyz says ready), issues user tokens for --users random
active users (revoked again at the end), then sends GET /v1/feed at --rate requests per
second for --duration seconds, open loop: request k is due at start + k/rate whether or not
earlier ones have answered, and its latency is counted from when it was due, so a server
that falls behind shows it in the tail instead of slowing the load down. --cold-users adds
ids the snapshot has never seen (always ranked online).

Then, with the server stopped, the same snapshot is loaded in this process and the same
users are ranked one at a time with `Engine.rank` (the policy's live state read beforehand)
and served with `FeedService.page` (what the endpoint calls), for the ratio of the HTTP p50
to the in-process p50.

Prints a JSON report and a markdown row `| catalog | users | workers | target rps |
achieved rps | p50 ms | p99 ms | errors | rank p50 ms | http p50 / rank p50 |`. The load
generator runs on the same machine as the server and competes with it for CPU; on a small
machine its figures are a floor, not a ceiling.
--smoke: two seconds at 20/s on a copy of the tiny home (`bench/_smoke.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import polars as pl
import uvloop
from _smoke import copy_of_tiny_home, parse_args

from api.feed import FeedService
from ranking.engine import Engine
from ranking.policy import GrantCache, read_live
from ranking.snapshot.reader import ServingSnapshot
from reelrank.control.tokens import create_token, revoke_token
from reelrank.home import DataHome

REELRANK = str(Path(sys.executable).parent / "reelrank")


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(home: DataHome, port: int, log: Path, ready_timeout_s: float, workers: int
           ) -> subprocess.Popen:
    server = subprocess.Popen(
        [REELRANK, "serve", "--home", str(home.root), "--port", str(port),
         "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + ready_timeout_s
    loaded: set[str] = set()  # each worker process loads at its own instant
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited {server.returncode}: {log.read_text()[-3000:]}")
        try:
            got = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if got.status_code == 200:
                loaded.add(got.json()["loaded_at"])
                if len(loaded) >= workers:  # (each probe's fresh connection may reach
                    return server           # a worker not heard from yet)
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit(f"server not ready after {ready_timeout_s}s: {log.read_text()[-3000:]}")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` and its live descendants (the worker
    processes of `--workers N`) have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") \
        + sum(_cpu_s(int(child)) for child in children)


async def _drive(url: str, tokens: list[str], rate: float, duration_s: float, limit: int,
                 max_inflight: int, server_pid: int
                 ) -> tuple[list[float], Counter, Counter, dict, float, float]:
    """(latencies of 200s, statuses, page kinds, latencies per kind, elapsed seconds, (server
    CPU seconds, this generator's CPU seconds) during the load)."""
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    statuses: Counter = Counter()
    kinds: Counter = Counter()
    gate = asyncio.Semaphore(max_inflight)
    # aiohttp, not httpx: the generator shares the cores with the server, and httpx costs
    # about 2 ms of CPU a request, so at 400/s it saturated a core by itself and its own lag
    # (counted from each due time) hid what the server did.
    connector = aiohttp.TCPConnector(limit=max_inflight)
    params = {"limit": str(limit)}

    async def one(client: aiohttp.ClientSession, bearer: str, due: float) -> None:
        async with gate:
            try:
                async with client.get("/v1/feed", params=params,
                                      headers={"Authorization": f"Bearer {bearer}"}) as got:
                    await got.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
                return
        statuses[got.status] += 1
        if got.status == 200:
            took = time.perf_counter() - due
            kind = got.headers.get("X-Reelrank-Feed", "?")
            latencies.append(took)
            by_kind.setdefault(kind, []).append(took)
            kinds[kind] += 1

    async with aiohttp.ClientSession(base_url=url, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:
        for bearer in tokens[:20]:  # warm-up: connections, first-touch paths; not counted
            async with client.get("/v1/feed", params=params,
                                  headers={"Authorization": f"Bearer {bearer}"}) as got:
                await got.read()
        cpu_before, own_before = _cpu_s(server_pid), time.process_time()
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        start = time.perf_counter()
        tasks = []
        for k in range(int(rate * duration_s)):
            due = start + k / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(client, tokens[k % len(tokens)], due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        cpu = _cpu_s(server_pid) - cpu_before
        own = time.process_time() - own_before
    return latencies, statuses, kinds, by_kind, elapsed, (cpu, own)


def _in_process(home: DataHome, users: list[object], limit: int, repeats: int
                ) -> dict[str, float]:
    snap = ServingSnapshot.load(home.dir("snapshots") / "latest")
    engine = Engine.load(snap, home.settings)
    grants = GrantCache()  # as a server keeps the live grants
    service = FeedService(engine, home.dir("feeds") / snap.directory.name, grants=grants)
    control = home.control()
    rank, page = [], []
    try:
        for n in range(repeats):
            for user in users:
                live = read_live(control, [user], datetime.now(UTC).date(), grants=grants)
                started = time.perf_counter()
                engine.rank([user], live)
                if n:  # the first pass warms caches
                    rank.append(time.perf_counter() - started)
                started = time.perf_counter()
                service.page(control, user, limit=limit, cursor=None, now=datetime.now(UTC))
                if n:
                    page.append(time.perf_counter() - started)
    finally:
        control.close()
    return {"engine_rank_p50_ms": _pct(rank, 50), "engine_rank_p99_ms": _pct(rank, 99),
            "feed_page_p50_ms": _pct(page, 50), "catalog_items": snap.n_items}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None,
                        help="a home with snapshots/latest (--smoke: a copy of the tiny one)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (`reelrank serve --workers`)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--users", type=int, default=100, help="active users with tokens")
    parser.add_argument("--cold-users", type=int, default=0,
                        help="extra users unknown to the snapshot (ranked online)")
    parser.add_argument("--limit", type=int, default=20, help="items per page")
    parser.add_argument("--max-inflight", type=int, default=256)
    parser.add_argument("--rank-repeats", type=int, default=3,
                        help="in-process passes over the users (the first is warm-up)")
    parser.add_argument("--ready-timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=0)
    drawn = parser.add_mutually_exclusive_group()
    drawn.add_argument("--precomputed", action="store_true",
                       help="draw users from those with a precomputed page")
    drawn.add_argument("--online", action="store_true",
                       help="draw users from those without one (every page ranked online)")
    # --smoke: a few seconds of load on a private copy of the tiny home (tokens are written
    # to its control store); its active users have precomputed pages, the cold ones do not.
    args = parse_args(parser, {"rate": 20.0, "duration": 2.0, "users": 10, "cold_users": 3,
                               "rank_repeats": 2, "ready_timeout": 120.0}, argv)
    if args.home is not None:
        return _run(args, DataHome.open(args.home))
    if not args.smoke:
        parser.error("--home is required (or --smoke)")
    with tempfile.TemporaryDirectory(prefix="reelrank-bench-api-") as scratch:
        return _run(args, DataHome.open(copy_of_tiny_home(Path(scratch) / "home")))


def _run(args: argparse.Namespace, home: DataHome) -> int:
    snap_dir = (home.dir("snapshots") / "latest").resolve()
    seen = pl.read_parquet(snap_dir / "seen.parquet", columns=["user_id"])
    active = seen["user_id"].unique().sort().to_list()
    feeds = home.dir("feeds") / snap_dir.name
    if (args.precomputed or args.online) and feeds.is_dir():
        # As in production, where the nightly batch scored every active user: the users
        # with a precomputed page for this snapshot (bench/precompute_feeds.py); --online:
        # the others, whose every page is ranked online.
        pre = set(pl.read_parquet(feeds / "*.parquet", columns=["user_id"])["user_id"]
                  .to_list())
        active = sorted(pre) if args.precomputed else [u for u in active if u not in pre]
    rng = np.random.default_rng(args.seed)
    users = [active[i] for i in rng.choice(len(active), min(args.users, len(active)),
                                           replace=False)]
    cold = [f"bench-cold-{n}" for n in range(args.cold_users)]
    now = datetime.now(UTC)
    control = home.control()
    tokens = [create_token(control, "user", u, now=now, label="bench_api") for u in users + cold]
    control.close()

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = _serve(home, port, Path(tmp) / "server.log", args.ready_timeout,
                        args.workers)
        try:
            latencies, statuses, kinds, by_kind, elapsed, cpu = uvloop.run(_drive(
                f"http://127.0.0.1:{port}", tokens, args.rate, args.duration, args.limit,
                args.max_inflight, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=60)
    control = home.control()
    for bearer in tokens:
        revoke_token(control, bearer, now=datetime.now(UTC))
    control.close()

    local = _in_process(home, users, args.limit, args.rank_repeats)
    ok = statuses.get(200, 0)
    report = {
        "home": str(home.root), "catalog_items": local["catalog_items"],
        "users": len(users), "cold_users": len(cold), "workers": args.workers,
        "target_rps": args.rate,
        "duration_s": args.duration, "requests": sum(statuses.values()), "ok": ok,
        "errors": sum(statuses.values()) - ok, "statuses": {str(k): v for k, v in
                                                            statuses.items()},
        "achieved_rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "http_p50_ms": _pct(latencies, 50), "http_p99_ms": _pct(latencies, 99),
        "server_cpu_ms_per_request": round(cpu[0] / max(sum(statuses.values()), 1) * 1000, 2),
        # The load generator's own CPU (it shares the cores): near 1 s per second of load,
        # it is the bottleneck, and latency counted from due times includes its lag.
        "generator_cpu_s_per_s": round(cpu[1] / elapsed, 2) if elapsed else 0.0,
        "pages": dict(kinds),
        "http_p50_ms_by_kind": {k: _pct(v, 50) for k, v in by_kind.items()},
        **{k: v for k, v in local.items() if k != "catalog_items"},
        "cpus": os.cpu_count(),
    }
    report["http_p50_over_rank_p50"] = report["http_p50_ms"] / local["engine_rank_p50_ms"]
    report["http_p50_over_feed_page_p50"] = report["http_p50_ms"] / local["feed_page_p50_ms"]
    print(json.dumps(report, indent=2, default=float))
    print("| catalog | users | workers | target rps | achieved rps | p50 ms | p99 ms | errors | "
          "rank p50 ms | http p50 / rank p50 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {report['catalog_items']:,} items | {len(users) + len(cold)} | {args.workers} | "
          f"{args.rate:g} | "
          f"{report['achieved_rps']:g} | {report['http_p50_ms']:.1f} | "
          f"{report['http_p99_ms']:.1f} | {report['errors']} | "
          f"{local['engine_rank_p50_ms']:.1f} | {report['http_p50_over_rank_p50']:.2f} |")
    print(f"(median of in-process FeedService.page: {local['feed_page_p50_ms']:.1f} ms; "
          f"pages {dict(kinds)})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
