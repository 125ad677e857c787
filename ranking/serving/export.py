"""Export a serving snapshot: everything `rank a user` reads, as files, as of one date.

The API server cannot hold the DuckDB warehouse open (the nightly job writes it), and per-
request SQL is far too slow for a feed, so the nightly job writes what ranking needs into a
directory: feature tables as Parquet, item embeddings as a matrix, the graph, what each user
has seen, the ranker and the indexes (hard links when possible), and a manifest that
records every file's size and sha256. `ServingSnapshot.load` refuses a directory whose files
do not match it; `publish_snapshot` makes one live with an atomic rename.

Feature values come from the same `windowed_features` SQL as training rows, and the value
of an entity with no history (the "defaults" row) from that SQL too, run for a key that
matches nothing; a test holds snapshot rows equal to point-in-time rows.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import date
from pathlib import Path

import duckdb
import numpy as np

from features.engagement import ENTITIES, windowed_features
from features.location import home_regions
from features.snapshot import SnapshotParams, feature_relation
from ranking.dataset import ensure_user_embeddings
from reelrank.checksums import file_sha256
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = [
    "ENTITY_FILES", "MANIFEST", "export_snapshot", "prune", "publish_snapshot",
]

MANIFEST = "manifest.json"
FORMAT = 1
# entity -> file with its features as of the snapshot date
ENTITY_FILES = {name: f"features_{name}.parquet"
                for name in ("user", "item", "creator", "user_creator", "user_topic",
                             "region_item")}


def _copy(con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation | str,
          path: Path) -> None:
    rel = con.sql(relation) if isinstance(relation, str) else relation
    rel.write_parquet(str(path), compression="zstd")


def _defaults(con: duckdb.DuckDBPyConnection, name: str, as_of: date, p: SnapshotParams
              ) -> dict[str, float | None]:
    """Features of an entity with no history as of `as_of`: the same SQL, a key that
    matches nothing (smoothed rates come out as the global rate, counts as 0)."""
    entity = ENTITIES[name]
    keys = ", ".join(f"NULL AS {k}" for k in entity.keys)
    query = f"SELECT DATE '{as_of.isoformat()}' AS as_of, {keys}"
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


def export_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, *,
                    root: Path, ranker_dir: Path | None, indexes: Path) -> Path:
    """Write a new snapshot directory under `root` (not yet live) and return it."""
    p = SnapshotParams.from_settings(settings)
    day = f"DATE '{as_of.isoformat()}'"
    out = root / f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    tmp = root / f".tmp-{out.name}"
    tmp.mkdir(parents=True)
    try:
        ensure_user_embeddings(con, [as_of], settings)
        _copy(con, f"""
            SELECT i.item_id, i.creator_id, i.topic,
                   epoch(i.created_at)::DOUBLE AS created_s,
                   date_diff('hour', i.created_at, {day}::TIMESTAMPTZ) AS item_age_hours,
                   i.duration_s AS item_duration_s,
                   len(i.cameo_user_ids) AS item_cameo_count,
                   i.cameo_user_ids,
                   (i.remix_of IS NOT NULL) AS item_is_remix,
                   (i.safety_label = 'sensitive') AS item_sensitive,
                   i.safety_label,
                   cu.country AS creator_country,
                   (s.user_id IS NOT NULL) AS stand_in_creator,
                   coalesce(shown.n, 0)::BIGINT AS impressions_before
            FROM items i
            LEFT JOIN users cu ON cu.user_id = i.creator_id
            LEFT JOIN stand_in_creators s ON s.user_id = CAST(i.creator_id AS VARCHAR)
            LEFT JOIN (SELECT item_id, sum(impressions) AS n FROM engagement_daily
                       WHERE day < {day} GROUP BY item_id) shown USING (item_id)
            WHERE i.created_at < {day}::TIMESTAMPTZ
            ORDER BY i.item_id""", tmp / "items.parquet")
        _copy(con, "SELECT item_id, embedding FROM item_embeddings ORDER BY item_id",
              tmp / "item_embeddings.parquet")
        _copy(con, f"SELECT user_id, embedding, from_chat FROM user_embeddings "
                   f"WHERE as_of = {day} ORDER BY user_id", tmp / "user_embeddings.parquet")
        _copy(con, "SELECT user_id, country FROM users ORDER BY user_id", tmp / "users.parquet")
        defaults = {}
        for name, file in ENTITY_FILES.items():
            _copy(con, feature_relation(con, name, as_of, p), tmp / file)
            defaults[name] = _defaults(con, name, as_of, p)
        _copy(con, home_regions(con, f"SELECT user_id, {day} AS as_of FROM users",
                                window_days=p.home_window_days), tmp / "home_region.parquet")
        _copy(con, feature_relation(con, "regional_popularity", as_of, p),
              tmp / "regional_popularity.parquet")
        _copy(con, f"""
            SELECT follower_id AS user_id, followee_id AS author, true AS follows
            FROM follows WHERE created_at < {day}::TIMESTAMPTZ
            UNION ALL
            SELECT user_a, user_b, false FROM friendships WHERE created_at < {day}::TIMESTAMPTZ
            UNION ALL
            SELECT user_b, user_a, false FROM friendships WHERE created_at < {day}::TIMESTAMPTZ
            ORDER BY 1, 2""", tmp / "graph.parquet")
        _copy(con, f"""SELECT DISTINCT user_id, item_id FROM engagement_daily
                       WHERE day < {day} AND impressions > 0 ORDER BY user_id, item_id""",
              tmp / "seen.parquet")
        if ranker_dir is not None:
            _link_tree(ranker_dir, tmp / "ranker")
        for name in ("content", "collaborative", "ease"):
            if (indexes / name / "meta.json").is_file():
                _link_tree(indexes / name, tmp / "indexes" / name)
        files = sorted(f for f in tmp.rglob("*") if f.is_file())
        kind = con.execute("SELECT value FROM home_meta WHERE key = 'log_kind'").fetchall()
        manifest = {
            "format": FORMAT, "as_of": as_of.isoformat(), "defaults": defaults,
            # The app's own log and simulated worlds record exposures.
            "log_kind": kind[0][0] if kind else "exposures",
            "ranker": ranker_dir.name if ranker_dir is not None else None,
            "files": {str(f.relative_to(tmp)): {"bytes": f.stat().st_size,
                                                "sha256": file_sha256(f)} for f in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_plain))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {value!r}")


def publish_snapshot(root: Path, snapshot: Path) -> Path:
    """Point `root/latest` at `snapshot` (a directory in `root`) with an atomic rename."""
    if snapshot.parent.resolve() != root.resolve() or not (snapshot / MANIFEST).is_file():
        raise ReelrankError(f"{snapshot} is not a finished snapshot in {root}")
    link = root / "latest"
    tmp = root / f".latest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp.symlink_to(snapshot.name, target_is_directory=True)
    os.replace(tmp, link)
    return link


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` run directories in `root` (the one `latest` points
    at is always kept), and temporary directories an interrupted export left behind."""
    live = (root / "latest").resolve() if (root / "latest").exists() else None
    runs = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                   and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime,
                  reverse=True)
    stale = [p for p in runs[keep:] if p.resolve() != live]
    stale += [p for p in root.glob(".tmp-*") if p.is_dir()
              and time.time() - p.stat().st_mtime > 3600]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale
