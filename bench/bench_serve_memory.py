"""Load time and memory of the first and of each further API process on one host, all
serving one memory-mapped snapshot (numpy mmap, FAISS IO_FLAG_MMAP) through the page cache.

    .venv/bin/python bench/bench_serve_memory.py --home bench/out/scale-1m --processes 3 \
        --repeats 3 --warm-users 300 [--json report.json] [--smoke]

Each process is a real `reelrank serve --workers 1` on its own port. They start one after
another, the earlier ones still running: each is timed from start to its first ready
/readyz (interpreter start and imports included: what a restart costs), then asked over
HTTP for one page each for --warm-users users who have no precomputed page, so every page
is ranked online and touches the snapshot's mapped arrays and indexes. Per process, after
load and after that warm-up: RSS, USS and PSS (psutil `memory_full_info`), the anonymous
part (/proc smaps_rollup), and the host's used memory (psutil `virtual_memory().used`,
page cache excluded). RSS counts the shared mapped pages again in every process; what a
further process really adds is its USS, or the host's used-memory increase (noisy when
other work runs on the host: the load average before and after each round is recorded).

The servers run on a private twin of HOME (its control store copied, for the tokens and
served history they write; its snapshot and feed files symlinked, so the very same files
and page cache are read and nothing in HOME is written). One uncounted start first warms
the page cache: these are warm-cache figures. Medians over --repeats rounds.
--smoke: two processes, one round, a few users, on a copy of the tiny home.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import polars as pl
from _smoke import copy_of_tiny_home, parse_args

from reelrank.control.tokens import create_token
from reelrank.home import DataHome

try:  # in the dev environment (through ipython and distributed), not a runtime dependency
    import psutil
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit("bench_serve_memory.py needs psutil (pip install psutil)") from exc

REELRANK = str(Path(sys.executable).parent / "reelrank")
MB = 2**20


def _mirror(src: Path, dest: Path) -> None:
    """`dest`: `src`'s folders, holding a symlink to each of its files (the same inodes, so
    the same page cache; the snapshot's caches beside it, `.verified` and `.compiled`, are
    then the twin's own)."""
    for folder, _dirs, files in os.walk(src):
        here = dest / Path(folder).relative_to(src)
        here.mkdir(exist_ok=True)
        for name in files:
            (here / name).symlink_to(Path(folder, name))


def _twin(home: Path, dest: Path) -> Path:
    """A writable home at `dest` serving `home`'s snapshot and feed files in place."""
    dest.mkdir(parents=True)
    for entry in home.iterdir():
        if entry.name in ("snapshots", "feeds"):
            (dest / entry.name).mkdir()
            for run in entry.iterdir():
                target = dest / entry.name / run.name
                if run.is_symlink():  # `latest`: the same relative link
                    target.symlink_to(os.readlink(run))
                elif run.is_dir() and not run.name.startswith("."):
                    _mirror(run.resolve(), target)
                elif run.name != ".serving":  # other servers' leases are not ours
                    (shutil.copytree if run.is_dir() else shutil.copy2)(run, target)
        elif entry.suffix == ".sqlite":  # a consistent copy even if someone is writing
            with sqlite3.connect(entry) as src, sqlite3.connect(dest / entry.name) as dst:
                src.backup(dst)
        elif entry.is_dir() and entry.name not in ("dagster", "run"):
            shutil.copytree(entry, dest / entry.name, symlinks=True)
        elif entry.is_file() and entry.name != "write.lock" \
                and not entry.name.endswith(("-wal", "-shm", "-journal")):  # in the backup
            shutil.copy2(entry, dest / entry.name)
    return dest


def _online_users(home: DataHome, n: int, seed: int) -> tuple[list[object], bool]:
    """`n` active users without a precomputed page (ranked online), and whether there were
    enough of them (else precomputed ones fill up, as on the tiny home)."""
    snap = (home.dir("snapshots") / "latest").resolve()
    active = pl.read_parquet(snap / "seen.parquet", columns=["user_id"])["user_id"].unique()
    feeds = home.dir("feeds") / snap.name
    pre = (pl.read_parquet(feeds / "*.parquet", columns=["user_id"])["user_id"].unique()
           if feeds.is_dir() else active.clear())
    online = active.filter(~active.is_in(pre.implode())).sort()
    pool, enough = (online, True) if len(online) >= n else (active.sort(), False)
    rng = np.random.default_rng(seed)
    return pool.gather(rng.choice(len(pool), min(n, len(pool)), replace=False)).to_list(), \
        enough


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(home: DataHome, log: Path, timeout_s: float) -> tuple[subprocess.Popen, int, float]:
    """(server, port, seconds from start to ready)."""
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [REELRANK, "serve", "--home", str(home.root), "--port", str(port), "--workers", "1",
         "--no-access-log", "--log-level", "warning"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT)
    while time.perf_counter() - started < timeout_s:
        if server.poll() is not None:
            raise SystemExit(f"server exited {server.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return server, port, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.terminate()
    raise SystemExit(f"server not ready after {timeout_s}s: {log.read_text()[-3000:]}")


def _memory(pid: int) -> dict[str, float]:
    """The process's RSS, USS, PSS and anonymous memory, and the host's used memory, in MB."""
    full = psutil.Process(pid).memory_full_info()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    anon_kb = next(int(line.split()[1]) for line in rollup if line.startswith("Anonymous:"))
    return {"rss_mb": full.rss / MB, "uss_mb": full.uss / MB, "pss_mb": full.pss / MB,
            "anon_mb": anon_kb / 1024, "host_used_mb": psutil.virtual_memory().used / MB}


def _warm(port: int, tokens: list[str], limit: int) -> dict[str, object]:
    """One page per token, one request at a time; seconds, page kinds, p50 latency."""
    kinds: Counter = Counter()
    took = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        started = time.perf_counter()
        for bearer in tokens:
            t = time.perf_counter()
            got = client.get("/v1/feed", params={"limit": limit},
                             headers={"Authorization": f"Bearer {bearer}"})
            took.append(time.perf_counter() - t)
            kinds[got.headers.get("X-Reelrank-Feed", str(got.status_code))
                  if got.status_code == 200 else str(got.status_code)] += 1
        elapsed = time.perf_counter() - started
    return {"warm_s": elapsed, "pages": dict(kinds),
            "page_p50_ms": float(np.median(took)) * 1000 if took else float("nan")}


def _round(home: DataHome, k: int, tokens: list[str], args: argparse.Namespace, log: Path,
           label: str) -> list[dict]:
    """Start `k` servers one after another (all kept running), measuring each; stop all."""
    servers, rows = [], []
    try:
        for n in range(1, k + 1):
            before = psutil.virtual_memory().used / MB
            server, port, load_s = _start(home, log, args.ready_timeout)
            servers.append(server)
            loaded = _memory(server.pid)
            warm = _warm(port, tokens, args.limit)
            warmed = _memory(server.pid)
            row = {"process": n, "load_s": load_s, **warm,
                   **{f"{key}_loaded": v for key, v in loaded.items()},
                   **{f"{key}_warm": v for key, v in warmed.items()},
                   "host_used_delta_mb": warmed["host_used_mb"] - before}
            rows.append(row)
            print(f"[{label}] process {n}: ready in {load_s:.1f} s; after load RSS "
                  f"{loaded['rss_mb']:.0f} USS {loaded['uss_mb']:.0f} MB; after "
                  f"{len(tokens)} pages ({warm['warm_s']:.1f} s, {warm['pages']}) RSS "
                  f"{warmed['rss_mb']:.0f} USS {warmed['uss_mb']:.0f} PSS "
                  f"{warmed['pss_mb']:.0f} MB; host used +{row['host_used_delta_mb']:.0f} MB",
                  file=sys.stderr, flush=True)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=60)
    return rows


def _medians(rounds: list[list[dict]]) -> list[dict]:
    keys = [key for key, v in rounds[0][0].items() if isinstance(v, float)]
    return [{"process": n + 1, **{key: round(statistics.median(r[n][key] for r in rounds), 2)
                                  for key in keys}} for n in range(len(rounds[0]))]


def _measure(args: argparse.Namespace, source: Path, scratch: Path) -> dict:
    home = DataHome.open(_twin(source, scratch / "twin"))
    users, enough = _online_users(home, args.warm_users, args.seed)
    control = home.control()
    now = datetime.now(UTC)
    tokens = [create_token(control, "user", u, now=now, label="bench_serve_memory")
              for u in users]
    control.close()
    log = scratch / "servers.log"
    print(f"twin of {source} in {home.root}; {len(users)} users "
          f"({'no' if enough else 'some with a'} precomputed page); warming the page cache "
          "with one uncounted start", file=sys.stderr, flush=True)
    cache_before = psutil.virtual_memory().cached / MB
    _round(home, 1, tokens, args, log, "page-cache warm-up")
    rounds, loads = [], []
    for r in range(args.repeats):
        load_before = os.getloadavg()
        rounds.append(_round(home, args.processes, tokens, args, log,
                             f"round {r + 1}/{args.repeats}"))
        loads.append({"before": load_before, "after": os.getloadavg()})
    return {
        "home": str(source), "processes": args.processes, "repeats": args.repeats,
        "warm_users": len(users), "users_without_precomputed_page": enough,
        "limit": args.limit, "page_cache": "warm (one uncounted start first)",
        "page_cache_mb_before_warm_start": round(cache_before),
        "snapshot": (home.dir("snapshots") / "latest").resolve().name,
        "cpus": os.cpu_count(), "host_total_mb": round(psutil.virtual_memory().total / MB),
        "load_average": loads, "median": _medians(rounds), "rounds": rounds,
    }


def _table(report: dict) -> str:
    lines = [("| process | load s | RSS MB (load / warm) | USS MB (load / warm) | PSS MB warm "
              "| anon MB warm | host used +MB | page p50 ms |"),
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in report["median"]:
        lines.append(
            f"| {m['process']} | {m['load_s']:.1f} | {m['rss_mb_loaded']:,.0f} / "
            f"{m['rss_mb_warm']:,.0f} | {m['uss_mb_loaded']:,.0f} / {m['uss_mb_warm']:,.0f} | "
            f"{m['pss_mb_warm']:,.0f} | {m['anon_mb_warm']:,.0f} | "
            f"{m['host_used_delta_mb']:,.0f} | {m['page_p50_ms']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None,
                        help="a home with snapshots/latest (--smoke: a copy of the tiny one)")
    parser.add_argument("--processes", type=int, default=3, help="API processes, K")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of 1..K processes")
    parser.add_argument("--warm-users", type=int, default=300,
                        help="online-ranked pages asked of each process after it loads")
    parser.add_argument("--limit", type=int, default=20, help="items per page")
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scratch", type=Path, default=None,
                        help="where the twin home goes (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parse_args(parser, {"processes": 2, "repeats": 1, "warm_users": 5,
                               "ready_timeout": 120.0}, argv)
    if args.processes < 1 or args.repeats < 1 or args.warm_users < 1:
        parser.error("--processes, --repeats and --warm-users must be at least 1")
    if args.home is None and not args.smoke:
        parser.error("--home is required (or --smoke)")
    with tempfile.TemporaryDirectory(prefix="reelrank-bench-mem-", dir=args.scratch) as tmp:
        source = args.home.resolve() if args.home is not None else \
            copy_of_tiny_home(Path(tmp) / "home")
        report = _measure(args, source, Path(tmp))
    text = json.dumps(report, indent=1, default=float)
    if args.json is not None:
        args.json.write_text(text + "\n")
    print(text)
    print(_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
