"""The nightly batch scorer: every active user's feed, shard by shard, through `rank_users`.

Users are split into shards by a stable hash of their id, so shards can run in parallel
(one Dagster partition each) and a rerun of one shard rewrites exactly its users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ranking.context import RankContext
from ranking.pipeline import RankOutput, rank_users

__all__ = ["FEED_COLUMNS", "ShardReport", "active_users", "score_shard"]

FEED_COLUMNS = ("user_id", "position", "item_id", "score", "source")
USERS_PER_CHUNK = 2_000


@dataclass(frozen=True)
class ShardReport:
    shard: int
    users: int
    rows: int
    removed: dict[str, int]
    failed_sources: dict[str, str]
    path: Path


def active_users(ctx_con, as_of, shard: int, shards: int) -> pl.Series:
    """Users with any engagement before `as_of` whose id hashes to `shard`."""
    return ctx_con.sql(
        f"SELECT DISTINCT user_id FROM engagement_daily WHERE day < DATE '{as_of.isoformat()}' "
        f"AND hash(user_id) % {int(shards)} = {int(shard)} ORDER BY user_id").pl()["user_id"]


def score_shard(ctx: RankContext, *, shard: int, out_dir: Path, ranker, retrieval, grants,
                progress: Callable[[str], None] | None = None) -> ShardReport:
    """Rank `ctx.users` in chunks and write `out_dir/part-<shard>.parquet`."""
    say = progress or (lambda _line: None)
    parts: list[pl.DataFrame] = []
    removed: dict[str, int] = {}
    failed: dict[str, str] = {}
    users = ctx.users
    for start in range(0, users.len(), USERS_PER_CHUNK):
        chunk = RankContext(ctx.con, ctx.settings, ctx.as_of, users[start:start + USERS_PER_CHUNK])
        out: RankOutput = rank_users(chunk, ranker=ranker, retrieval=retrieval, grants=grants)
        parts.append(out.feeds)
        for name, n in out.removed.items():
            removed[name] = removed.get(name, 0) + n
        failed.update(out.failed_sources)
        say(f"shard {shard}: {min(start + USERS_PER_CHUNK, users.len()):,}/{users.len():,} users")
    if parts:
        feeds = pl.concat(parts).select(FEED_COLUMNS)
    else:  # a shard with no users still writes its (empty) part, so publishing can count it
        feeds = pl.DataFrame(schema={"user_id": users.dtype, "position": pl.Int32,
                                     "item_id": pl.String, "score": pl.Float64,
                                     "source": pl.String})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"part-{shard:04d}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    feeds.write_parquet(tmp)
    tmp.replace(path)
    return ShardReport(shard, users.len(), feeds.height, removed, failed, path)
