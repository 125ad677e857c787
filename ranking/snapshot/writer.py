"""Write a serving snapshot: everything `rank a user` reads, as files, as of one date.

The API server cannot hold the DuckDB warehouse open (the nightly job writes it), and per-
request SQL is far too slow for a feed, so the nightly job writes what ranking needs into a
directory (see `ranking.snapshot.format`): the feature tables, item and user embeddings, the
graph, what each user has seen, the ranker and the indexes (hard links when possible).

The writer computes nothing the feature assets computed: it copies the `features_*` tables
they materialized for the snapshot date (`Materialized`), and refuses tables as of another
date. Only evaluation, which needs a snapshot as of a past day, computes features for that
day with the same SQL (`ComputedAsOf`). What no asset holds is built here: the items table
(with impressions before the date), the graph, the seen lists, and each feature set's
defaults row (the same SQL run for a key that matches nothing, so a test can hold snapshot
rows equal to point-in-time rows).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import duckdb

from features.engagement import ENTITIES, windowed_features
from features.snapshot import SNAPSHOT_TABLES, SnapshotParams, feature_relation
from features.sql import Query
from ranking.snapshot.format import ENTITY_FILES, write_manifest
from ranking.snapshot.frozen import freeze_tables
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = ["ComputedAsOf", "FeatureSource", "Materialized", "export_snapshot"]

# Feature sets the snapshot holds besides the per-entity ones: file name -> feature set.
_OTHER_FILES = {"home_region.parquet": "home_region",
                "regional_popularity.parquet": "regional_popularity"}


class FeatureSource(Protocol):
    as_of: date

    def relation(self, con: duckdb.DuckDBPyConnection, name: str) -> duckdb.DuckDBPyRelation:
        """Feature set `name` as of `self.as_of`."""


@dataclass(frozen=True)
class Materialized:
    """The feature tables the assets materialized, which must be as of `as_of`."""

    as_of: date

    def relation(self, con: duckdb.DuckDBPyConnection, name: str) -> duckdb.DuckDBPyRelation:
        table = SNAPSHOT_TABLES[name]  # a constant table name, never user text
        (stale,) = con.execute(f"SELECT count(*) FROM {table} WHERE as_of IS DISTINCT FROM ?",
                               [self.as_of]).fetchall()[0]
        if stale:
            raise ReelrankError(f"{table} holds features as of another date than the "
                                f"snapshot's {self.as_of}: run the features job first")
        return con.table(table)


@dataclass(frozen=True)
class ComputedAsOf:
    """Features computed for `as_of` with the assets' own SQL (evaluation's past days)."""

    as_of: date
    params: SnapshotParams

    def relation(self, con: duckdb.DuckDBPyConnection, name: str) -> duckdb.DuckDBPyRelation:
        return feature_relation(con, name, self.as_of, self.params)


def _defaults(con: duckdb.DuckDBPyConnection, name: str, as_of: date, p: SnapshotParams
              ) -> dict[str, float | None]:
    """Features of an entity with no history as of `as_of`: the same SQL, a key that
    matches nothing (smoothed rates come out as the global rate, counts as 0)."""
    entity = ENTITIES[name]
    keys = ", ".join(f"NULL AS {k}" for k in entity.keys)  # column names from a constant
    query = Query(f"SELECT $as_of AS as_of, {keys}", {"as_of": as_of})
    row = windowed_features(con, entity, query, windows=p.windows_for(name),
                            half_life_days=p.half_life_days,
                            prior_strength=p.prior_strength).pl()
    return {c: row[c][0] for c in row.columns if c not in ("as_of", *entity.keys)}


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link (else copy) a finished artifact directory: writers replace whole
    directories, so a link keeps exactly the files this snapshot was built with."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.is_file():
            try:
                os.link(item, target / item.name)
            except OSError:
                shutil.copy2(item, target / item.name)


def _write(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | dict[str, object],
           path: Path) -> None:
    con.sql(sql, params=params or None).write_parquet(str(path), compression="zstd")


_ITEMS = """
    SELECT i.item_id, i.creator_id, i.topic,
           epoch(i.created_at)::DOUBLE AS created_s,
           date_diff('hour', i.created_at, $day::TIMESTAMPTZ) AS item_age_hours,
           i.duration_s AS item_duration_s,
           len(i.cameo_user_ids) AS item_cameo_count,
           i.cameo_user_ids,
           (i.remix_of IS NOT NULL) AS item_is_remix,
           (i.safety_label = 'sensitive') AS item_sensitive,
           i.safety_label,
           i.text,
           cu.country AS creator_country,
           (s.user_id IS NOT NULL) AS stand_in_creator,
           coalesce(shown.n, 0)::BIGINT AS impressions_before
    FROM items i
    LEFT JOIN users cu ON cu.user_id = i.creator_id
    LEFT JOIN stand_in_creators s ON s.user_id = CAST(i.creator_id AS VARCHAR)
    LEFT JOIN (SELECT item_id, sum(impressions) AS n FROM engagement_daily
               WHERE day < $day GROUP BY item_id) shown USING (item_id)
    WHERE i.created_at < $day::TIMESTAMPTZ
    ORDER BY i.item_id"""

_GRAPH = """
    SELECT follower_id AS user_id, followee_id AS author, true AS follows
    FROM follows WHERE created_at < $day::TIMESTAMPTZ
    UNION ALL
    SELECT user_a, user_b, false FROM friendships WHERE created_at < $day::TIMESTAMPTZ
    UNION ALL
    SELECT user_b, user_a, false FROM friendships WHERE created_at < $day::TIMESTAMPTZ
    ORDER BY 1, 2"""

_SEEN = """SELECT DISTINCT user_id, item_id FROM engagement_daily
           WHERE day < $day AND impressions > 0 ORDER BY user_id, item_id"""


def export_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, *,
                    root: Path, ranker_dir: Path | None, indexes: Path,
                    features: FeatureSource | None = None) -> Path:
    """Write a new snapshot directory under `root` (not yet live) and return it.
    `features`: where the feature sets come from (default: the materialized tables)."""
    source = features or Materialized(as_of)
    if source.as_of != as_of:
        raise ReelrankError(f"features as of {source.as_of} for a snapshot as of {as_of}")
    p = SnapshotParams.from_settings(settings)
    day = {"day": as_of}
    out = root / f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    tmp = root / f".tmp-{out.name}"
    tmp.mkdir(parents=True)
    try:
        (have,) = con.execute("SELECT count(*) FROM user_embeddings WHERE as_of = ?",
                              [as_of]).fetchall()[0]
        (active,) = con.execute("SELECT count(DISTINCT user_id) FROM engagement_daily "
                                "WHERE day < ?", [as_of]).fetchall()[0]
        if active and not have:
            raise ReelrankError(f"no user embeddings as of {as_of}: the user_embeddings "
                                "asset builds them before a snapshot is exported")
        _write(con, _ITEMS, day, tmp / "items.parquet")
        _write(con, "SELECT item_id, embedding FROM item_embeddings ORDER BY item_id", [],
               tmp / "item_embeddings.parquet")
        _write(con, "SELECT user_id, embedding, from_chat FROM user_embeddings "
                    "WHERE as_of = ? ORDER BY user_id", [as_of], tmp / "user_embeddings.parquet")
        _write(con, "SELECT user_id, country FROM users ORDER BY user_id", [],
               tmp / "users.parquet")
        defaults = {}
        for name, file in ENTITY_FILES.items():
            source.relation(con, name).write_parquet(str(tmp / file), compression="zstd")
            defaults[name] = _defaults(con, name, as_of, p)
        for file, name in _OTHER_FILES.items():
            source.relation(con, name).write_parquet(str(tmp / file), compression="zstd")
        _write(con, _GRAPH, day, tmp / "graph.parquet")
        _write(con, _SEEN, day, tmp / "seen.parquet")
        if ranker_dir is not None:
            _link_tree(ranker_dir, tmp / "ranker")
        for name in ("content", "collaborative", "ease", "learned"):
            if (indexes / name / "meta.json").is_file():
                _link_tree(indexes / name, tmp / "indexes" / name)
        freeze_tables(tmp, defaults)  # once here, so servers map them
        kind = con.execute("SELECT value FROM home_meta WHERE key = 'log_kind'").fetchall()
        # Which model embedded the captions: a steering phrase is embedded by the same one.
        models = [r[0] for r in con.execute(
            "SELECT DISTINCT model_id FROM item_embeddings ORDER BY 1").fetchall()]
        write_manifest(tmp, as_of=as_of.isoformat(), defaults=defaults,
                       # The app's own log and simulated worlds record exposures.
                       log_kind=kind[0][0] if kind else "exposures",
                       ranker=ranker_dir.name if ranker_dir is not None else None,
                       embedding_model=models[0] if len(models) == 1 else None)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
