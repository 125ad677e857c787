"""Benchmark: ranking from a serving snapshot, one user at a time and in batches.

    .venv/bin/python bench/bench_ranking.py --home bench/out/scale-1m --users 300 \
        --batch 2000 --repeats 3

Loads `HOME/snapshots/latest` (or `--snapshot DIR`) the way the API does and reports:

- load: manifest verification (sha256 of every file, unless this host's record of an
  earlier verification still matches, as `ServingSnapshot.load` does), building the
  in-memory snapshot (mapping the arrays the writer froze, or computing them when there
  are none), `Engine.load` (ranker, feature assembler); RSS after;
- one user: `engine.rank([u], live)` for --users random active users, with `live` read
  from the home's control store for each call as the API does (`read_live`, with the
  API's in-memory cache of the live grants), p50/p99;
  the same with the live read done beforehand (ranking alone); and the live read alone.
  --warmup users are ranked first and not counted;
- where one user's time goes: the same users through the engine's public stages
  (`engine.query`, `engine.candidates`, `engine.score`, the feed definition's selector),
  with every source, filter and scorer of the definition timed ("merge" is the rest of
  `engine.candidates`: merging the lists), and the ranker scorer split into feature
  assembly and the model's predict; checked to give the same page as `engine.rank`
  (`stages_pages_mismatched`); the merged count comes from `engine.propose` and
  `ranking.engine.merge`;
- batch: `engine.rank(chunk, live)` over --batch active users in chunks of 1000, `live`
  read per chunk as the batch scorer does, median users/s of --repeats;
- the same one-user ranking and batch in this process's CPU time (`rank_only_cpu`,
  `users_per_cpu_s_median`): on a shared machine, wall time also counts the waits for a
  core, CPU time much less so;
- candidates per user: the merged pool the sources propose, and what is left to score
  after the policy filters, averaged over the batch users.

Prints a JSON report and a markdown row
`| catalog | users | one user p50 | p99 | batch users/s | candidates/user |`
(candidates/user: the scored pool). --cprofile N adds a cProfile of N single-user ranks.
--smoke: a few users of the tiny home (`bench/_smoke.py`), seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import json
import pstats
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _smoke import parse_args, tiny_home

from ranking.engine import Engine, merge
from ranking.live import GrantCache
from ranking.policy import read_live
from ranking.snapshot.format import verify as _verify
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome

CHUNK = 1_000
RANKER = "ranker"  # the scorer whose time splits into feature assembly and the model


def _mem_mb() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return {"rss_mb": round(out.get("VmRSS", float("nan")), 1),
            "peak_rss_mb": round(out.get("VmHWM", resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024), 1)}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 3),
            "p90": round(float(np.percentile(a, 90)), 3),
            "p99": round(float(np.percentile(a, 99)), 3),
            "mean": round(float(a.mean()), 3), "max": round(float(a.max()), 3)}


class _Timed:
    """A pipeline component (a source, filter or scorer module) whose `method` adds its
    wall time to `times[stage]`; every other attribute is the component's own."""

    def __init__(self, component, method: str, stage: str, times: dict[str, float]) -> None:
        self._component = component
        inner = getattr(component, method)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                times[stage] += time.perf_counter() - started

        setattr(self, method, timed)

    def __getattr__(self, name: str):
        return getattr(self._component, name)


class StagedEngine:
    """`engine`'s feed definition with every source, filter and scorer timed, and the
    ranker's predict timed apart from its feature assembly; run through the engine's own
    public methods, so the page is the engine's."""

    def __init__(self, engine: Engine) -> None:
        p, self.plain = engine.pipeline, engine
        self.times: dict[str, float] = {}
        wrap = lambda c, method, kind: _Timed(c, method, f"{kind}.{c.NAME}", self.times)
        sources = tuple(wrap(c, "propose", "source") for c in p.sources)
        filters = tuple(wrap(c, "drop", "filter") for c in p.filters)
        scorers = tuple(wrap(c, "score", "score") for c in p.scorers)
        self.stages = ["query", *(f"source.{c.NAME}" for c in p.sources), "merge",
                       *(f"filter.{c.NAME}" for c in p.filters),
                       *(f"score.{c.NAME}" for c in p.scorers if c.NAME != RANKER),
                       "features", "model", "select"]

        def predict(matrix: np.ndarray) -> np.ndarray:
            started = time.perf_counter()
            try:
                return engine.predict(matrix)
            finally:
                self.times["model"] += time.perf_counter() - started

        pipeline = dataclasses.replace(p, sources=sources, filters=filters,
                                       scorers=scorers,
                                       exploration=sources[p.sources.index(p.exploration)],
                                       taste=tuple(sources[p.sources.index(t)]
                                                   for t in p.taste))
        self.engine = Engine(engine.snap, engine.settings, engine.ranker,
                             predict if engine.predict is not None else None, pipeline)

    def rank(self, user: object, live) -> tuple[dict[str, float], list, int, int]:
        """`Engine.rank([user], live)` stage by stage: (milliseconds per stage, page item
        ids, merged candidates, scored candidates): `engine.query`, `engine.candidates`
        (its sources and filters timed by the wrappers), `engine.score`, the selector; the
        caller checks the page is the same."""
        clock, engine = time.perf_counter, self.engine
        times = self.times
        times.clear()
        times.update(dict.fromkeys(self.stages, 0.0))
        times["score." + RANKER] = 0.0
        view = engine.snap  # nothing added since the snapshot
        t = clock()
        q = engine.query(user, live.policy(user))
        times["query"] = clock() - t
        t = clock()
        (pool,), _removed, _failed = engine.candidates([q], live, view)
        # merging the sources' lists, and whatever else candidates does besides its
        # sources and filters
        times["merge"] = clock() - t - sum(v for k, v in times.items()
                                           if k.startswith(("source.", "filter.")))
        ctx = engine.scoring(view)
        (scores,) = engine.score(ctx, [q], [pool])
        # the ranker scorer's own time is feature assembly plus the model's predict
        times["features"] = times.pop("score." + RANKER) - times["model"]
        t = clock()
        page = engine.pipeline.selector.select(ctx, q, pool, scores)
        times["select"] = clock() - t
        proposed, _failed = self.plain.propose([q], view)  # untimed: the merged count
        merged = len(merge([found[0] for found in proposed]).rows)
        return ({k: v * 1000 for k, v in times.items()}, page.item_ids, merged,
                len(pool.rows))


def pools(engine: Engine, users: list, live) -> tuple[np.ndarray, np.ndarray]:
    """(merged, scored) candidates per user: what the sources propose (`engine.propose`,
    `merge`) and what `engine.candidates` leaves to score after the policy filters."""
    queries = [engine.query(u, live.policy(u)) for u in users]
    proposed, _failed = engine.propose(queries, engine.snap)
    merged = [len(merge([p[n] for p in proposed]).rows) for n in range(len(queries))]
    scored, _removed, _failed = engine.candidates(queries, live)
    return np.array(merged), np.array([len(p.rows) for p in scored])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".reelrank"),
                        help="a home with snapshots/latest (--smoke: the tiny one)")
    parser.add_argument("--snapshot", type=Path, default=None,
                        help="a snapshot directory (default: HOME/snapshots/latest)")
    parser.add_argument("--users", type=int, default=300, help="users timed one at a time")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also profile N single-user ranks with cProfile")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parse_args(parser, {"home": None, "users": 5, "warmup": 2, "batch": 40,
                               "repeats": 1})
    home = DataHome.open(args.home if args.home is not None else tiny_home())
    directory = (args.snapshot or home.dir("snapshots") / "latest").resolve()
    if not directory.is_dir():
        raise SystemExit(f"{directory}: no snapshot (run `reelrank run` or "
                         "bench/scale_snapshot.py first)")
    settings = home.settings
    before = _mem_mb()
    _say(f"loading {directory}")
    # = ServingSnapshot.load, timed in its two parts: the verification (files hashed unless
    # this host's record of an earlier verification still matches them), then the build
    trusted = directory.parent / ".verified"
    had_record = (trusted / f"{directory.name}.json").is_file()
    t = time.perf_counter()
    manifest = _verify(directory, trusted=trusted)
    verify_s = time.perf_counter() - t
    t = time.perf_counter()
    snap = ServingSnapshot(directory, manifest)
    build_s = time.perf_counter() - t
    compiled = directory.parent / ".compiled"   # where Engine.load keeps it
    cached = compiled.is_dir() and any(compiled.iterdir())
    t = time.perf_counter()
    engine = Engine.load(snap, settings)
    engine_s = time.perf_counter() - t
    gc.collect()
    loaded = _mem_mb()
    disk = sum(f.stat().st_size for f in directory.rglob("*")
               if f.is_file() and ".compiled" not in f.parts)
    _say(f"loaded in {verify_s + build_s + engine_s:.1f}s (verify {verify_s:.1f}s, "
         f"snapshot {build_s:.1f}s, engine {engine_s:.1f}s); RSS {loaded['rss_mb']:.0f} MB")

    control = home.control()
    today = datetime.now(UTC).date()
    active = snap.active_users().to_list()
    rng = np.random.default_rng(args.seed)
    picks = [active[i] for i in rng.permutation(len(active))[: args.users + args.warmup]]
    warm, timed = picks[: args.warmup], picks[args.warmup:]

    # ---- one user, live read per call (what the API does, with the API's cache of the
    # live grants, brought up to date by each read).
    grants = GrantCache()
    for u in warm:
        engine.rank([u], read_live(control, [u], today, grants=grants))
    with_live, live_only, rank_only, rank_cpu = [], [], [], []
    for u in timed:
        t0 = time.perf_counter()
        live = read_live(control, [u], today, grants=grants)
        t1 = time.perf_counter()
        c1 = time.process_time()
        engine.rank([u], live)
        t2 = time.perf_counter()
        rank_cpu.append((time.process_time() - c1) * 1000)
        with_live.append((t2 - t0) * 1000)
        live_only.append((t1 - t0) * 1000)
        rank_only.append((t2 - t1) * 1000)
    del live
    _say(f"one user: p50 {np.percentile(with_live, 50):.1f} ms, p99 "
         f"{np.percentile(with_live, 99):.1f} ms; ranking alone p50 "
         f"{np.percentile(rank_only, 50):.1f} ms, p99 {np.percentile(rank_only, 99):.1f} ms")

    # ---- stages
    stages: dict[str, list[float]] = {}
    merged_one, scored_one, mismatched = [], [], 0
    staged = StagedEngine(engine)
    for u in timed:
        live = read_live(control, [u], today, grants=grants)
        times, ids, merged, scored = staged.rank(u, live)
        for name, ms in times.items():
            stages.setdefault(name, []).append(ms)
        merged_one.append(merged)
        scored_one.append(scored)
        if ids != engine.rank([u], live).pages[0].item_ids:
            mismatched += 1
    del live
    total = sum(statistics.mean(v) for v in stages.values())
    stage_report = {name: {**_pct(v), "share": round(statistics.mean(v) / total, 3)}
                    for name, v in stages.items()}

    profile_text = None
    if args.cprofile:
        prof = cProfile.Profile()
        for u in timed[: args.cprofile]:
            live = read_live(control, [u], today, grants=grants)
            prof.enable()
            engine.rank([u], live)
            prof.disable()
        del live
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        profile_text = buf.getvalue()

    # ---- batch
    batch = [active[i] for i in rng.permutation(len(active))[: args.batch]]
    rates, live_s, cpu_rates = [], [], []
    for _ in range(args.repeats):
        spent_live = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(0, len(batch), CHUNK):
            chunk = batch[s:s + CHUNK]
            tl = time.perf_counter()
            live = read_live(control, chunk, today)
            spent_live += time.perf_counter() - tl
            engine.rank(chunk, live)
        rates.append(len(batch) / (time.perf_counter() - t0))
        cpu_rates.append(len(batch) / (time.process_time() - c0))
        live_s.append(spent_live)
    merged_b, scored_b = [], []
    for s in range(0, len(batch), CHUNK):
        chunk = batch[s:s + CHUNK]
        m, k = pools(engine, chunk, read_live(control, chunk, today))
        merged_b.append(m)
        scored_b.append(k)
    merged_b, scored_b = np.concatenate(merged_b), np.concatenate(scored_b)
    control.close()
    end = _mem_mb()

    report = {
        "snapshot": str(directory), "items": snap.n_items, "users": snap.user_ids.len(),
        "active_users": len(active), "disk_bytes": disk,
        "load_s": {"verify": round(verify_s, 2), "verify_record_existed": had_record,
                   "arrays_frozen": snap.frozen, "snapshot": round(build_s, 2),
                   "engine": round(engine_s, 2), "ranker_backend": settings.ranker_backend,
                   "compiled_ranker_cached": cached,
                   "total": round(verify_s + build_s + engine_s, 2)},
        "memory_mb": {"before_load": before["rss_mb"], "after_load": loaded["rss_mb"],
                      "end": end["rss_mb"], "peak": end["peak_rss_mb"]},
        "one_user_ms": {"users": len(timed), "with_live_read": _pct(with_live),
                        "rank_only": _pct(rank_only), "live_read": _pct(live_only),
                        "rank_only_cpu": _pct(rank_cpu)},
        "stages_ms": stage_report, "stages_pages_mismatched": mismatched,
        "candidates_one_user": {"merged": round(float(np.mean(merged_one)), 1),
                                "scored": round(float(np.mean(scored_one)), 1)},
        "batch": {"users": len(batch), "chunk": CHUNK, "repeats": args.repeats,
                  "users_per_s_median": round(statistics.median(rates), 1),
                  "users_per_s_all": [round(r, 1) for r in rates],
                  "users_per_cpu_s_median": round(statistics.median(cpu_rates), 1),
                  "live_read_s_median": round(statistics.median(live_s), 3),
                  "candidates_per_user": {"merged": round(float(merged_b.mean()), 1),
                                          "scored": round(float(scored_b.mean()), 1),
                                          "scored_p50": float(np.median(scored_b))}},
    }
    print(json.dumps(report, indent=2))
    if profile_text:
        print(f"\ncProfile of {args.cprofile} single-user ranks (by own time):\n")
        print(profile_text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print("\n| catalog | users | one user p50 | p99 | batch users/s | candidates/user |\n"
          "| --- | --- | --- | --- | --- | --- |")
    one = report["one_user_ms"]["with_live_read"]
    print(f"| {snap.n_items:,} items | {snap.user_ids.len():,} | {one['p50']:.1f} ms | "
          f"{one['p99']:.1f} ms | {report['batch']['users_per_s_median']:.0f} | "
          f"{report['batch']['candidates_per_user']['scored']:.0f} |")


if __name__ == "__main__":
    main()
