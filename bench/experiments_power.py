"""How many users an A/B test and an interleaving experiment need to find a weakened ranker,
and whether an A/A test stays quiet: on the synthetic world, through the session simulator.

    .venv/bin/python bench/experiments_power.py --home H [--users 300 --new-users 100]
        [--weak '{"mmr_lambda": 0.0, "exploration_every": 2}'] [--smoke]

Three simulator runs on the home's world (the real API in-process, on a sandbox): an A/B
test of the served settings against `--weak`, a team-draft interleaving of the same two, and
an A/A test of the served settings against themselves. Users needed: from each run's
per-user outcomes, random subsets of n users (without replacement, 200 per n) are scored
with the results' own test; the smallest n with power >= 0.8 at p < 0.05 is reported. A/A:
the A/A run's traffic re-assigned with 20 different salts (both variants serve the same
pages, so a salt changes nothing but the split), counting the salts whose test says "no
difference" at p >= 0.05.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _smoke import copy_of_tiny_home, parse_args

from cli.sessions.config import SessionConfig
from cli.sessions.simulate import simulate_sessions
from reelrank.control import experiments as store
from reelrank.control.connection import stamp, transaction
from reelrank.experiment_results import experiment_results
from reelrank.experiments import parse_experiment
from reelrank.home import DataHome

SIZES = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 320)


def _p(result: dict) -> float:
    if result["kind"] == "interleave":
        return result["p_value"] if result["p_value"] is not None else 1.0
    p = result["variants"][list(result["variants"])[1]].get("vs_control", {}).get("p_value")
    return 1.0 if p is None or math.isnan(p) else p


def _subset(frames, users: np.ndarray):
    experiment, exposures, events = frames
    keep = pl.Series(users)
    return (experiment, exposures.filter(pl.col("user_id").is_in(keep.implode())),
            events.filter(pl.col("user_id").is_in(keep.implode())))


def _power(frames, sizes, draws: int, seed: int) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    users = frames[1]["user_id"].unique().sort().to_numpy()
    out = {}
    for n in sizes:
        if n > len(users):
            break
        hits = sum(_p(experiment_results(*_subset(frames, rng.choice(users, n, replace=False))))
                   < 0.05 for _ in range(draws))
        out[n] = float(hits / draws)
    return out


def _run(home: DataHome, kind: str, weak: dict, config: SessionConfig) -> tuple:
    name = f"power-{kind}-{uuid.uuid4().hex[:6]}"
    variants = [{"name": "control"}, {"name": "weak", "overrides": weak}] if kind != "aa" \
        else [{"name": "a"}, {"name": "b"}]
    experiment = parse_experiment(name, "interleave" if kind == "interleave" else "ab",
                                  variants, salt=uuid.uuid4().hex,
                                  starts_at=stamp(datetime.now(UTC)))
    con = home.control()
    try:
        with transaction(con):
            store.create(con, experiment, datetime.now(UTC))
    finally:
        con.close()
    run = simulate_sessions(home, config, modes=("live",), experiment=name,
                            progress=lambda line: print(f"  {kind}: {line}", file=sys.stderr))
    return run.modes["live"].experiment


def _save(directory: Path | None, kind: str, frames: tuple) -> None:
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    experiment, exposures, events = frames
    exposures.write_parquet(directory / f"{kind}-exposures.parquet")
    events.write_parquet(directory / f"{kind}-events.parquet")
    (directory / f"{kind}-experiment.json").write_text(json.dumps(experiment.as_json()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--new-users", type=int, default=100)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--weak", default='{"mmr_lambda": 0.0, "exploration_every": 2}')
    parser.add_argument("--save", type=Path, default=None,
                        help="also write each run's exposures and events as Parquet here")
    args = parse_args(parser, {"users": 30, "new_users": 0, "pages": 2, "draws": 5})
    if args.smoke or args.home is None:
        with tempfile.TemporaryDirectory() as scratch:
            return _measure(args, DataHome.open(copy_of_tiny_home(Path(scratch) / "home")))
    return _measure(args, DataHome.open(args.home))


def _measure(args: argparse.Namespace, home: DataHome) -> None:
    weak = json.loads(args.weak)
    config = SessionConfig(users=args.users, new_users=args.new_users, pages=args.pages,
                           page_size=home.settings.api_page_default, seed=args.seed,
                           sessions=1)  # one session a day, as the README's figures were run
    sizes = SIZES[:3] if args.smoke else SIZES
    out = {"setup": {"users": args.users, "new_users": args.new_users, "pages": args.pages,
                     "seed": args.seed, "weak": weak, "draws": args.draws}}
    for kind in ("ab", "interleave"):
        frames = _run(home, kind, weak, config)
        _save(args.save, kind, frames)
        full = experiment_results(*frames)
        power = _power(frames, sizes, args.draws, args.seed)
        needed = next((n for n, p in power.items() if p >= 0.8), None)
        out[kind] = {"users": int(full["users"]), "p_value": float(_p(full)), "power": power,
                     "users_needed": needed}
        print(f"{kind}: {full['users']} users, p = {_p(full):.3g}; power {power}; "
              f"users needed for 80% power: {needed}", file=sys.stderr)
    experiment, exposures, events = _run(home, "aa", {}, config)
    _save(args.save, "aa", (experiment, exposures, events))
    quiet = 0
    for salt in range(20):
        again = replace(experiment, salt=f"aa-{salt}")
        relabelled = exposures.with_columns(pl.col("user_id").map_elements(
            again.assign, return_dtype=pl.Utf8).alias("variant"))
        quiet += _p(experiment_results(again, relabelled, events)) >= 0.05
    out["aa"] = {"salts": 20, "no_difference": int(quiet)}
    ab, il = out["ab"]["users_needed"], out["interleave"]["users_needed"]
    out["interleaving_fewer_users"] = ab / il if ab and il else None
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
