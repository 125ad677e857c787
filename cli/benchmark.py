"""`reelrank benchmark --home H [--json]`: does the engine beat the textbook baselines on this
home's own log?

The home's interactions (`ranking.learned.interactions_of`: every row of a choice-only log,
engagement of an exposure log) are split in time: `global` holds out the last share of the
whole log (users and items must be known before the cut), `per_user` each user's own last
share. On the part before the cut, each peer (most-popular, EASE, implicit ALS, implicit BPR,
cosine item-kNN) picks its setting from a small grid on a validation carve of that part, then
refits on all of it; the engine fits its learned stage exactly as the nightly job does (its
own validation carve, never the test rows). Everyone recommends 50 items a user has not
interacted with; binary relevance, NDCG@10 and Recall@10/50 over the held-out users.

The engine's row is the learned stage's order, which is the feed's order on a choice-only log
before the policy, diversity and exploration slots (`bench/movielens_compare.py` measures the
feed as served). The result is saved to `HOME/reports/benchmark-<time>.json` and shown, with
a bar chart, in the run report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from cli.html import (
    bars,
    escape,
    figure_class,
    latest_json_report,
    refresh_section,
    save_json_report,
    table,
)
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["benchmark", "benchmark_main", "benchmark_section", "latest_benchmark"]

_OPEN, _CLOSE = "<!-- benchmark -->", "<!-- /benchmark -->"
PEERS = ("most_popular", "ease", "als", "bpr", "itemknn")


def _peer_grids(small: bool) -> dict[str, tuple[Callable, list]]:
    from ranking.models.als import AlsParams, fit_als
    from ranking.models.bpr import BprParams, fit_bpr
    from ranking.models.ease import EaseParams, fit_ease
    from ranking.models.itemknn import ItemKnnParams, fit_itemknn
    from ranking.models.popularity import PopularityParams, fit_popularity

    return {
        "most_popular": (fit_popularity, [PopularityParams(1.0)]),
        "ease": (fit_ease, [EaseParams(s) for s in ((1.0,) if small else (0.5, 1, 2, 4, 8))]),
        "als": (fit_als, [AlsParams(factors=f, regularization=r)
                          for f in ((32,) if small else (32, 64, 128))
                          for r in ((1.0,) if small else (0.1, 1.0))]),
        "bpr": (fit_bpr, [BprParams(factors=f) for f in ((32,) if small else (64, 128))]),
        "itemknn": (fit_itemknn, [ItemKnnParams(k=50)]),
    }


def benchmark(home: DataHome, *, split: str = "global", share: float = 0.2,
              grid: str | None = None, seed: int | None = None,
              progress: Callable[[str], None] = lambda line: None) -> dict:
    """The comparison as the JSON `--json` prints."""
    from ranking.learned import interactions_of, pipeline_params
    from ranking.models.ease import MAX_ITEMS
    from ranking.models.interactions import code_interactions
    from ranking.models.pipeline import fit_pipeline
    from ranking.models.tuning import carve, evaluate, grid_search

    settings = home.settings
    seed = settings.seed if seed is None else seed
    grid = grid or settings.learned_grid
    import duckdb

    if not home.warehouse_path.is_file():
        raise ReelrankError(f"{home.root} has no warehouse yet: `reelrank import` or "
                            "`reelrank ingest` a log first")
    try:
        con = home.warehouse(read_only=True)
    except duckdb.IOException as exc:
        raise ReelrankError(f"cannot read {home.warehouse_path} (is a nightly run writing "
                            f"it?): {exc}") from exc
    try:
        frame = interactions_of(con)
    except duckdb.CatalogException as exc:
        raise ReelrankError(f"{home.root} has no events yet: `reelrank import` or `reelrank "
                            "ingest` a log first") from exc
    finally:
        con.close()
    if frame.height < settings.learned_min_interactions:
        raise ReelrankError(f"{home.root} holds {frame.height} interactions; a benchmark "
                            f"needs at least {settings.learned_min_interactions}")
    log = code_interactions(frame, seed=seed)
    test = carve(log, split, share, seed)  # `carve` cuts a test split the same way
    users = test.users
    if len(users) < 10:
        raise ReelrankError(f"the {split} split leaves {len(users)} users with something to "
                            "find after the cut; try --split per_user")
    progress(f"benchmark: {len(log):,} interactions, {log.n_users:,} users, "
             f"{log.n_items:,} items; {split} split, {len(users):,} users asked")
    inner = carve(test.fit, split, share, seed)
    models: dict[str, dict] = {}
    for name, (fit_fn, params_grid) in _peer_grids(grid == "small").items():
        if name == "ease" and log.n_items > MAX_ITEMS:
            progress(f"  ease: skipped ({log.n_items:,} items > {MAX_ITEMS:,})")
            continue
        started = time.perf_counter()
        best, _, _ = grid_search(fit_fn, params_grid, inner, seed)
        top, _ = fit_fn(test.fit, best, seed).top(users, 50)
        models[name] = {**evaluate(top, test.truth, users), "setting": repr(best),
                        "seconds": round(time.perf_counter() - started, 1)}
        progress(f"  {name}: ndcg@10 {models[name]['ndcg@10']:.4f} ({best})")
    started = time.perf_counter()
    params = pipeline_params(settings.model_copy(update={"learned_grid": grid}), split)
    pipe = fit_pipeline(test.fit, params, seed=seed)
    top = pipe.recommend(users, 50)
    models["reelrank"] = {**evaluate(top, test.truth, users), "setting": pipe.chosen,
                          "seconds": round(time.perf_counter() - started, 1)}
    progress(f"  reelrank: ndcg@10 {models['reelrank']['ndcg@10']:.4f} ({pipe.chosen})")
    peers = {k: v for k, v in models.items() if k != "reelrank"}
    best_peer = max(peers, key=lambda k: peers[k]["ndcg@10"])
    return {
        "split": {"kind": split, "share": share, "users": len(users),
                  "interactions": len(log), "train_interactions": len(test.fit),
                  "items": log.n_items, "grid": grid, "seed": seed},
        "models": models,
        "best_peer": best_peer,
        "reelrank_over_best_peer": models["reelrank"]["ndcg@10"] / peers[best_peer]["ndcg@10"]
        if peers[best_peer]["ndcg@10"] > 0 else None,
    }


def save_benchmark(home: DataHome, payload: Mapping[str, object]) -> Path:
    return save_json_report(home.dir("reports"), "benchmark", payload)


def latest_benchmark(home: DataHome) -> tuple[Path, dict] | None:
    return latest_json_report(home.dir("reports"), "benchmark")


def benchmark_section(home: DataHome, figure) -> str:
    """The run report's section for the latest saved benchmark (a note when none)."""
    out = [_OPEN, '<section id="benchmark"><h2>Against the baselines</h2>']
    latest = latest_benchmark(home)
    if latest is None:
        out.append("<p>No benchmark saved yet; run <code>reelrank benchmark --home "
                   f"{escape(home.root)}</code>.</p>")
        return "".join(out) + "</section>" + _CLOSE
    path, payload = latest
    s = payload["split"]
    out.append(f"<p>{escape(path.name)}: {s['kind']} split, last {s['share']:.0%} held out, "
               f"{s['users']:,} users asked, {s['items']:,} items; peers chose their settings "
               "on a validation carve of the training part.</p>")
    models = payload["models"]
    out.append(table(("model", "NDCG@10", "Recall@10", "Recall@50", "setting"), [
        (name, f"{m['ndcg@10']:.4f}", f"{m['recall@10']:.4f}", f"{m['recall@50']:.4f}",
         escape(m["setting"])) for name, m in models.items()], table_id="benchmark"))
    if figure:
        out.append(bars(figure, {n: m["ndcg@10"] for n, m in models.items()},
                        "NDCG@10 on the held-out part of this home's log", "NDCG@10"))
    return "".join(out) + "</section>" + _CLOSE


def _print_table(payload: Mapping) -> None:
    s = payload["split"]
    print(f"benchmark: {s['kind']} split (last {s['share']:.0%}), {s['users']:,} users, "
          f"{s['items']:,} items")
    print(f"  {'model':<14}{'NDCG@10':>9}{'Recall@10':>11}{'Recall@50':>11}  setting")
    for name, m in payload["models"].items():
        print(f"  {name:<14}{m['ndcg@10']:>9.4f}{m['recall@10']:>11.4f}{m['recall@50']:>11.4f}"
              f"  {m['setting']}")
    ratio = payload["reelrank_over_best_peer"]
    if ratio is not None:
        print(f"  reelrank / best peer ({payload['best_peer']}): {ratio:.3f}x")


def benchmark_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="reelrank benchmark", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--split", choices=("global", "per_user"), default="global")
    parser.add_argument("--share", type=float, default=0.2,
                        help="share held out for the test (default 0.2)")
    parser.add_argument("--grid", choices=("full", "small"), default=None,
                        help="validation grids (default: the home's learned_grid setting)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args(argv)
    if not 0.0 < args.share < 1.0:
        parser.error(f"--share must be in (0, 1), got {args.share}")
    try:
        home = DataHome.open(args.home)
        payload = benchmark(home, split=args.split, share=args.share, grid=args.grid,
                            seed=args.seed,
                            progress=lambda line: print(line, file=sys.stderr, flush=True))
    except ReelrankError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_benchmark(home, payload)
    refresh_section(home.dir("reports"), benchmark_section(home, figure_class()),
                    _OPEN, _CLOSE)
    if args.json:
        print(json.dumps(payload))
    else:
        _print_table(payload)
    return 0

