"""The nightly batch scorer: every active user's feed, shard by shard, through the same
`Engine.rank` the API calls.

Users are split into shards by a stable hash of their id, so shards can run in parallel
(one Dagster partition each) and a rerun of one shard rewrites exactly its users. The
policy's live state is read from the control store for each chunk, as the API reads it for
each request, and so are moderators' labels: ranked over an overlay holding them
(`LiveItems.relabel`), the same filters see the same ratings as the API's next request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from ranking.engine import Engine
from ranking.policy import read_live
from ranking.snapshot.overlay import LiveItems
from reelrank.control.connection import Connection
from reelrank.control.labels import current_labels

__all__ = ["FEED_COLUMNS", "ShardReport", "score_shard", "shard_of", "shard_users"]

FEED_COLUMNS = ("user_id", "position", "item_id", "score", "source")


@dataclass(frozen=True)
class ShardReport:
    shard: int
    users: int
    rows: int
    removed: dict[str, int]
    failed_sources: dict[str, str]
    path: Path


def shard_of(user_id: object, shards: int) -> int:
    digest = hashlib.blake2b(str(user_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_users(users: pl.Series, shard: int, shards: int) -> pl.Series:
    """The users (with history) whose id hashes to `shard`."""
    return users.filter(pl.Series([shard_of(u, shards) == shard for u in users.to_list()],
                                  dtype=pl.Boolean))


def score_shard(engine: Engine, control: Connection, users: pl.Series, *, shard: int,
                out_dir: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                progress: Callable[[str], None] | None = None) -> ShardReport:
    """Rank `users` in chunks and write `out_dir/part-<shard>.parquet`."""
    say = progress or (lambda _line: None)
    parts: list[pl.DataFrame] = []
    removed: dict[str, int] = {}
    failed: dict[str, str] = {}
    item_dtype = engine.snap.item_ids.dtype
    step = engine.settings.batch_chunk_users
    for start in range(0, users.len(), step):
        chunk = users[start:start + step].to_list()
        live = read_live(control, chunk, clock())
        labelled = LiveItems.empty(engine.snap, 0).relabel(engine.snap, current_labels(control))
        out = engine.rank(chunk, live, labelled)
        parts.append(out.frame(users.dtype, item_dtype))
        for name, n in out.removed.items():
            removed[name] = removed.get(name, 0) + n
        failed.update(out.failed_sources)
        say(f"shard {shard}: {min(start + step, users.len()):,}/{users.len():,} users")
    feeds = pl.concat(parts) if parts else pl.DataFrame(schema={
        "user_id": users.dtype, "position": pl.Int32, "item_id": item_dtype,
        "score": pl.Float64, "source": pl.String})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"part-{shard:04d}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    feeds.select(FEED_COLUMNS).write_parquet(tmp)
    tmp.replace(path)
    return ShardReport(shard, users.len(), feeds.height, removed, failed, path)
