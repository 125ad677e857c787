"""Benchmark: build and query the item index (HNSW and exact) at catalog scale.

    .venv/bin/python bench/bench_retrieval.py                  # 1M x 384, k=500, 1,000 queries
    .venv/bin/python bench/bench_retrieval.py --n 20000 --queries 200 --k 100 --repeats 3
    .venv/bin/python bench/bench_retrieval.py --smoke

Vectors are realistic rather than uniform: 64 latent factors (each item a Zipf-popular topic
centre plus its own offset) mixed into `--dim` dimensions by a random matrix, plus isotropic
noise, L2-normalised, all from `--seed`. Queries are fresh draws from the same distribution.

Each repeat runs in a fresh process (`_measure`), which builds the HNSW index (timed), times
`--queries` single-query searches through `ItemIndex.search` (id mapping included), builds
the exact index, times `--exact-queries` single-query exact searches, and computes recall@k of
HNSW against exact over all queries (batched). Figures are medians over repeats; latency
percentiles are over the single-query timings. Peak RSS is the child's whole-run peak
(vectors + both indexes); `hnsw_phase_peak_rss_mb` is the peak before the exact index exists,
and `hnsw_index_mb` the resident growth from building the HNSW index alone.

Prints one JSON object, then a Markdown table header and row. --smoke: 3,000 x 32, k=50
(HNSW still forced, seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _measure import measure
from _smoke import parse_args

LATENT = 64  # latent factors behind the vectors
TOPICS = 500  # topic centres in latent space, drawn with Zipf(1.1)-like popularity
OFFSET = 0.7  # an item's spread around its topic centre, relative to the centre scale
NOISE = 0.5  # per-dimension isotropic noise, relative to the mixed signal's scale
CHUNK = 100_000  # rows generated at a time, bounding temporaries
WARMUP = 10  # untimed searches before the timed ones

CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
from bench_retrieval import run_once
print(json.dumps(run_once({config!r})))
"""


def make_vectors(n: int, dim: int, seed: int, stream: int) -> np.ndarray:
    """`n` unit float32 rows; `stream` picks independent draws (0: catalog, 1: queries)
    from the same distribution, whose shape (topics, mixing) depends on `seed` only."""
    shape = np.random.default_rng(seed)
    centres = shape.normal(size=(TOPICS, LATENT))
    mixing = shape.normal(size=(LATENT, dim)) / np.sqrt(LATENT)
    popularity = 1.0 / np.arange(1, TOPICS + 1) ** 1.1
    popularity /= popularity.sum()
    rng = np.random.default_rng([seed, stream])
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, CHUNK):
        rows = min(CHUNK, n - lo)
        latent = centres[rng.choice(TOPICS, rows, p=popularity)]
        latent += OFFSET * rng.normal(size=(rows, LATENT))
        mixed = latent @ mixing * (1 / np.sqrt(1 + OFFSET**2))
        mixed += NOISE * rng.normal(size=(rows, dim))
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        out[lo:lo + rows] = mixed
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _latencies_ms(index: object, queries: np.ndarray, k: int) -> dict[str, float]:
    for q in queries[:WARMUP]:
        index.search(q[None], k)
    timings = []
    for q in queries:
        started = time.perf_counter()
        index.search(q[None], k)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(timings, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "mean_ms": float(np.mean(timings)),
            "max_ms": float(np.max(timings)), "queries": len(timings)}


def run_once(config: dict[str, int]) -> dict[str, object]:
    """One measured run (in the child process)."""
    from ranking.index import IndexParams, ItemIndex
    from ranking.retrieval import recall_against_exact

    n, dim, k = config["n"], config["dim"], config["k"]
    started = time.perf_counter()
    vectors = make_vectors(n, dim, config["seed"], stream=0)
    queries = make_vectors(config["queries"], dim, config["seed"], stream=1)
    generate_s = time.perf_counter() - started
    ids = np.arange(n, dtype=np.int64)
    hnsw_params = IndexParams(exact_below=0, hnsw_m=config["m"],
                              ef_construction=config["ef_construction"],
                              ef_search=config["ef_search"], threads=config["threads"])
    before = _rss_mb()
    started = time.perf_counter()
    hnsw = ItemIndex.build(ids, vectors, hnsw_params)
    build_s = time.perf_counter() - started
    hnsw_index_mb = _rss_mb() - before
    hnsw_latency = _latencies_ms(hnsw, queries, k)
    started = time.perf_counter()
    hnsw.search(queries, k)
    batch_qps = len(queries) / (time.perf_counter() - started)
    hnsw_phase_peak = _peak_mb()

    exact_params = IndexParams(exact_below=n + 1, threads=config["threads"])
    started = time.perf_counter()
    exact = ItemIndex.build(ids, vectors, exact_params)
    exact_build_s = time.perf_counter() - started
    exact_latency = _latencies_ms(exact, queries[:config["exact_queries"]], k)
    started = time.perf_counter()
    recall = recall_against_exact(hnsw, queries, k, exact)
    recall_s = time.perf_counter() - started
    return {"n": n, "dim": dim, "k": k, "queries": len(queries), "threads": config["threads"],
            "params": vars(hnsw_params), "kinds": [hnsw.kind, exact.kind],
            "generate_s": generate_s, "hnsw_build_s": build_s, "hnsw_index_mb": hnsw_index_mb,
            "hnsw": hnsw_latency, "hnsw_batch_qps": batch_qps,
            "hnsw_phase_peak_rss_mb": hnsw_phase_peak,
            "exact_build_s": exact_build_s, "exact": exact_latency,
            f"recall_at_{k}": recall, "recall_s": recall_s}


def _median(runs: list[dict]) -> dict:
    """Field-wise median of the figures that vary over repeats (nested dicts too)."""
    out = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs]
        if isinstance(first, dict):
            out[key] = _median(values)
        elif all(value == first for value in values):  # settings and counts stay as given
            out[key] = first
        elif isinstance(first, int | float) and not isinstance(first, bool):
            out[key] = statistics.median(values)
        else:
            out[key] = first
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="catalog size")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1_000, help="HNSW single queries")
    parser.add_argument("--exact-queries", type=int, default=50,
                        help="exact single queries timed (a prefix of the queries)")
    parser.add_argument("--k", type=int, default=500)
    parser.add_argument("--m", type=int, default=32, help="HNSW neighbours per node")
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--ef-search", type=int, default=128, help="raised to k when smaller")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="fresh-process runs (median)")
    args = parse_args(parser, {"n": 3_000, "dim": 32, "queries": 20, "exact_queries": 5,
                               "k": 50})
    if args.queries < WARMUP or args.exact_queries < 1 or args.n < args.k:
        parser.error("need --queries >= 10, --exact-queries >= 1 and --n >= --k")
    config = {"n": args.n, "dim": args.dim, "queries": args.queries, "k": args.k,
              "exact_queries": min(args.exact_queries, args.queries), "m": args.m,
              "ef_construction": args.ef_construction, "ef_search": args.ef_search,
              "threads": args.threads, "seed": args.seed}
    code = CHILD.format(bench=str(Path(__file__).resolve().parent), config=config)
    runs, peaks, walls = [], [], []
    for _ in range(args.repeats):
        measured = measure(code, 1)
        walls.append(measured.pop("wall_s_median"))
        peaks.append(measured.pop("peak_rss_mb_median"))
        measured.pop("wall_s_all")
        runs.append(measured)
    result = {**_median(runs), "repeats": args.repeats, "peak_rss_mb": statistics.median(peaks),
              "wall_s": statistics.median(walls), "python": sys.version.split()[0]}
    print(json.dumps(result, indent=2))
    k = args.k
    print(f"| n | dim | k | HNSW build s | HNSW p50 ms | HNSW p99 ms | exact p50 ms | "
          f"exact p99 ms | recall@{k} | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.n:,} | {args.dim} | {k} | {result['hnsw_build_s']:.1f} | "
          f"{result['hnsw']['p50_ms']:.2f} | {result['hnsw']['p99_ms']:.2f} | "
          f"{result['exact']['p50_ms']:.2f} | {result['exact']['p99_ms']:.2f} | "
          f"{result[f'recall_at_{k}']:.4f} | {result['peak_rss_mb']:,.0f} |")


if __name__ == "__main__":
    main()
