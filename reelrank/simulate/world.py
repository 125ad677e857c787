"""`simulate`: draw a whole synthetic world from a seed and write it as Parquet.

Stages run in a fixed order, each from its own seeded generator; the engagement log is
generated and written one day at a time so memory stays bounded by a day, not the world.
`world.json` is written last: a directory without it holds an unfinished world.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import numpy as np
import polars as pl

from ._common import US_PER_DAY, format_ids, stage_rng, to_us, ts_series
from .catalog import Catalog, draw_catalog
from .chats import ChatWorld, draw_chats
from .config import WorldConfig
from .engagement import LogWorld, initial_state, simulate_day
from .policy import build_index
from .population import Guardians, Population, draw_guardians, draw_population
from .sessions import build_audience
from .social import Social, draw_social
from .tables import (
    SCHEMAS,
    chats_frame,
    friendships_frame,
    grants_frame,
    guardians_frame,
    id_width,
    items_frame,
    settings_frame,
    truth_items_frame,
    truth_users_frame,
    users_frame,
)
from .text import item_texts
from .truth import TruthModel
from .vocab import TOPIC_NAMES

__all__ = ["WorldSummary", "simulate"]

Progress = Callable[[str], None]
_FORMAT = 1
_TABLE_FILES = {
    "users": "users.parquet", "items": "items.parquet", "follows": "follows.parquet",
    "friendships": "friendships.parquet", "cameo_grants": "cameo_grants.parquet",
    "user_settings": "user_settings.parquet", "guardians": "guardians.parquet",
    "chats": "chats.parquet", "truth_users": "truth/users.parquet",
    "truth_items": "truth/items.parquet",
}


@dataclass(frozen=True)
class WorldSummary:
    """What `simulate` wrote: row counts per table and where each table lives.

    `paths["events"]` is the directory of per-day files and `counts["events"]` sums them;
    `paths` also names `truth_model` (truth/model.json) and `manifest` (world.json).
    """

    out_dir: Path
    seed: int
    users: int
    days: int
    start: datetime
    counts: Mapping[str, int]
    paths: Mapping[str, Path]


def _check_args(out_dir: Path, users: int, days: int, seed: int, start: datetime,
                overwrite: bool) -> None:
    if users < 2:
        raise ValueError(f"users must be at least 2, got {users}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if start.tzinfo is None:
        raise ValueError(f"start must be timezone-aware, got {start!r}")
    utc = start.astimezone(UTC)
    if (utc.hour, utc.minute, utc.second, utc.microsecond) != (0, 0, 0, 0):
        # Each events/day=YYYY-MM-DD file then holds exactly that UTC calendar day.
        raise ValueError(f"start must be midnight UTC, got {utc.isoformat()}")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; pass overwrite=True to replace a world")


def _clear_previous(out_dir: Path) -> None:
    """Remove only files a previous `simulate` wrote, so a shorter run leaves no stale days."""
    for name in (*_TABLE_FILES.values(), "truth/model.json", "world.json"):
        (out_dir / name).unlink(missing_ok=True)
    for day_file in (out_dir / "events").glob("day=*.parquet"):
        day_file.unlink()


def _write(frame: pl.DataFrame, path: Path, table: str) -> int:
    """Write a frame after checking it against the contract schema."""
    if frame.schema != SCHEMAS[table]:
        raise AssertionError(f"{table} schema drifted: {frame.schema} != {SCHEMAS[table]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd", statistics=True)
    return frame.height


def _follows_frame(social: Social, made: list[tuple[np.ndarray, ...]],
                   user_ids: pl.Series) -> pl.DataFrame:
    """Initial follows plus those made in the log, keeping each pair's earliest time."""
    follower = np.concatenate([social.follower, *(m[0] for m in made)])
    followee = np.concatenate([social.followee, *(m[1] for m in made)])
    when = np.concatenate([social.follow_us, *(m[2] for m in made)])
    frame = pl.DataFrame([user_ids.gather(follower).rename("follower_id"),
                          user_ids.gather(followee).rename("followee_id"),
                          ts_series("created_at", when)])
    return (frame.sort("created_at", "follower_id", "followee_id")
            .unique(["follower_id", "followee_id"], keep="first", maintain_order=True))


@dataclass(frozen=True)
class _Drawn:
    """Everything drawn before the log: people, graph, catalog, settings, ids."""

    people: Population
    guardians: Guardians
    social: Social
    catalog: Catalog
    chats: ChatWorld
    user_ids: pl.Series
    item_ids: pl.Series


def _draw(seed: int, users: int, days: int, start_us: int, end_us: int, year: int,
          config: WorldConfig, say: Progress) -> _Drawn:
    people = draw_population(seed, users, start_us, end_us, year, config)
    guardians = draw_guardians(seed, people, year, start_us, config)
    say(f"users: {users} drawn, {guardians.child.size} supervised minors")
    social = draw_social(seed, people, year, end_us, config)
    say(f"social: {social.friend_a.size} friendships, {social.follower.size} follows, "
        f"{social.grant_owner.size} cameo grants")
    catalog = draw_catalog(seed, people, social, start_us, end_us, days, config)
    return _Drawn(people=people, guardians=guardians, social=social, catalog=catalog,
                  chats=draw_chats(seed, people, guardians, start_us, end_us, config),
                  user_ids=format_ids("u", np.arange(users), id_width(users)),
                  item_ids=format_ids("v", np.arange(catalog.size), id_width(catalog.size)))


def _texts(seed: int, drawn: _Drawn) -> list[str]:
    catalog, user_ids = drawn.catalog, drawn.user_ids
    names = user_ids.gather(catalog.cameo_users).to_list()
    offsets = catalog.cameo_offsets.tolist()
    cameos = [names[offsets[i]:offsets[i + 1]] for i in range(catalog.size)]
    return item_texts(stage_rng(seed, "text"), catalog.topic,
                      user_ids.gather(catalog.creator).to_list(), cameos)


def _write_tables(seed: int, drawn: _Drawn, paths: Mapping[str, Path], say: Progress
                  ) -> dict[str, int]:
    """Every table except the log and follows (which the log adds to)."""
    ids = drawn.user_ids
    frames = {
        "users": users_frame(drawn.people, ids),
        "items": items_frame(drawn.catalog, drawn.item_ids, ids, _texts(seed, drawn)),
        "friendships": friendships_frame(drawn.social, ids),
        "cameo_grants": grants_frame(drawn.social, ids),
        "user_settings": settings_frame(drawn.chats, ids),
        "guardians": guardians_frame(drawn.guardians, ids),
        "chats": chats_frame(drawn.chats, ids),
        "truth_users": truth_users_frame(drawn.people, ids),
        "truth_items": truth_items_frame(drawn.catalog, drawn.item_ids),
    }
    counts = {name: _write(frame, paths[name], name) for name, frame in frames.items()}
    say(f"items: {drawn.catalog.size} videos written")
    return counts


def _write_log(seed: int, drawn: _Drawn, start: datetime, days: int, out_dir: Path,
               config: WorldConfig, model: TruthModel, say: Progress
               ) -> tuple[int, list[tuple[np.ndarray, ...]]]:
    """Generate and write the log day by day; returns its row count and the follows made."""
    people, social, catalog = drawn.people, drawn.social, drawn.catalog
    year = start.astimezone(UTC).year
    order = np.argsort(social.follow_us, kind="stable")
    world = LogWorld(
        seed=seed, people=people, audience=build_audience(people, drawn.guardians, year),
        catalog=catalog, index=build_index(people, social, catalog), model=model,
        config=config, planned_follow_key=(social.follower * people.size
                                           + social.followee)[order],
        planned_follow_us=social.follow_us[order], user_ids=drawn.user_ids,
        item_ids=drawn.item_ids,
    )
    start_us = to_us(start)
    state = initial_state(world, start_us)
    made: list[tuple[np.ndarray, ...]] = []
    rows = 0
    for day in range(days):
        log = simulate_day(world, state, day, start_us + day * US_PER_DAY)
        label = (start + timedelta(days=day)).astimezone(UTC).date().isoformat()
        rows += _write(log.events, out_dir / "events" / f"day={label}.parquet", "events")
        made.append((log.follower, log.followee, log.follow_us))
        state = log.state
        say(f"events: day {day + 1}/{days} ({label}): {log.events.height} rows")
    return rows, made


def simulate(out_dir: Path, *, users: int, days: int, seed: int,
             start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
             progress: Progress | None = None, config: WorldConfig | None = None,
             model: TruthModel | None = None, overwrite: bool = False) -> WorldSummary:
    """Generate a world of `users` people over `days` days from `seed` into `out_dir`.

    The same arguments always give the same tables. Refuses a non-empty `out_dir` unless
    `overwrite`, which replaces only the files a world consists of.
    """
    out_dir = Path(out_dir)
    _check_args(out_dir, users, days, seed, start, overwrite)
    say = progress or (lambda _line: None)
    config, model = config or WorldConfig(), model or TruthModel()
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous(out_dir)
    start_us = to_us(start)
    drawn = _draw(seed, users, days, start_us, start_us + days * US_PER_DAY,
                  start.astimezone(UTC).year, config, say)
    paths = {name: out_dir / rel for name, rel in _TABLE_FILES.items()}
    counts = _write_tables(seed, drawn, paths, say)
    (out_dir / "truth" / "model.json").write_text(model.to_json(TOPIC_NAMES) + "\n")
    counts["events"], made = _write_log(seed, drawn, start, days, out_dir, config, model, say)
    paths |= {"events": out_dir / "events", "truth_model": out_dir / "truth" / "model.json",
              "manifest": out_dir / "world.json"}
    counts["follows"] = _write(_follows_frame(drawn.social, made, drawn.user_ids),
                               paths["follows"], "follows")
    _write_manifest(out_dir, seed, users, days, start, counts)
    say(f"done: {counts['events']} events in {out_dir}")
    return WorldSummary(out_dir=out_dir, seed=seed, users=users, days=days, start=start,
                        counts=MappingProxyType(dict(counts)),
                        paths=MappingProxyType(dict(paths)))


def _write_manifest(out_dir: Path, seed: int, users: int, days: int, start: datetime,
                    counts: Mapping[str, int]) -> None:
    body = {"format": _FORMAT, "seed": seed, "users": users, "days": days,
            "start": start.astimezone(UTC).isoformat(), "counts": dict(sorted(counts.items()))}
    (out_dir / "world.json").write_text(json.dumps(body, indent=2) + "\n")
