"""Erasing users from the warehouse (the pipeline's half of an erasure; the control store's
half, and the tombstone this reads, are `reelrank.control.erasure`).

What goes: every row of every warehouse table that names them in a user column (their
account, events, chats, follows and friendships either way, features, embeddings, chat
interests, daily rollups, stand-in markers), the items they created and the items that show
them (a cameo of someone erased can never again have the live grant it needs, so the video
is removed rather than kept unservable), every row about those items (events by anyone,
embeddings, features), the cached embeddings of their captions and of the erased users'
chats, and quarantined records that mention any of those ids. A remix of a removed item keeps itself but no longer names its parent.

Aggregates over many users that once counted them (an item's impression count, a region's
popularity) are not theirs and stay until they are recomputed. The next snapshot, index and
batch feeds are built from what is left. DuckDB does not zero the blocks a delete frees, so
the caller rewrites the file afterwards (`DataHome.rewrite_warehouse`, as `reelrank.upkeep`
does) for the deleted bytes to go too.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from reelrank.text_keys import normalised_text_sql

__all__ = ["erase_from_warehouse", "remove_media"]

# Warehouse columns that hold a user id, and the one that holds an item id.
USER_COLUMNS = ("user_id", "creator_id", "follower_id", "followee_id", "user_a", "user_b")
ITEM_COLUMN = "item_id"
# Bookkeeping, not data about anyone (quarantine is handled by content below).
_SKIP = ("quarantine", "home_meta", "id_types", "ingest_log", "schema_migrations",
         "dirty_days")


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in con.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'main'").fetchall():
        out.setdefault(table, set()).add(column)
    return out


def _word(value: str) -> str:
    """A regex matching `value` as a whole id inside a JSON record."""
    return r"(^|[^A-Za-z0-9_\-])" + re.escape(value) + r"($|[^A-Za-z0-9_\-])"


def erase_from_warehouse(con: duckdb.DuckDBPyConnection, users: Sequence[object]
                         ) -> dict[str, int]:
    """Delete everything about `users` (see the module docstring); rows deleted by table.
    Runs in one transaction on the caller's connection (which holds the write lock)."""
    if not users:
        return {}
    tables = _columns(con)
    gone_users = pl.DataFrame({"id": [str(u) for u in users]}, schema={"id": pl.String})
    removed: dict[str, int] = {}
    con.execute("BEGIN")
    try:
        con.register("_gone_users_frame", gone_users)
        con.execute("CREATE OR REPLACE TEMP TABLE _gone_users AS "
                    "SELECT DISTINCT id FROM _gone_users_frame")
        con.unregister("_gone_users_frame")
        if "items" in tables:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _gone_items AS SELECT DISTINCT "
                "CAST(item_id AS VARCHAR) AS id FROM items WHERE "
                "CAST(creator_id AS VARCHAR) IN (SELECT id FROM _gone_users) OR "
                "list_has_any(CAST(cameo_user_ids AS VARCHAR[]), "
                "(SELECT list(id) FROM _gone_users))")
            con.execute("UPDATE items SET remix_of = NULL WHERE "
                        "CAST(remix_of AS VARCHAR) IN (SELECT id FROM _gone_items)")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _gone_items (id VARCHAR)")
        if "embedding_cache" in tables:
            # Texts are cached by their key (`reelrank.text_keys`): the removed items'
            # captions and the erased users' chats go, unless a text that stays is the same.
            removed["embedding_cache"] = _delete(
                con, "embedding_cache", f"content_hash IN ({_keys(tables, gone=True)}) "
                f"AND content_hash NOT IN ({_keys(tables, gone=False)})")
        for table, columns in sorted(tables.items()):
            if table in _SKIP or table == "embedding_cache":
                continue
            conditions = [f"CAST({c} AS VARCHAR) IN (SELECT id FROM _gone_users)"
                          for c in USER_COLUMNS if c in columns]
            if ITEM_COLUMN in columns:
                conditions.append(f"CAST({ITEM_COLUMN} AS VARCHAR) IN "
                                  "(SELECT id FROM _gone_items)")
            if conditions:  # table and column names from the catalog and constants
                removed[table] = _delete(con, table, " OR ".join(conditions))
        if "quarantine" in tables:
            ids = [r[0] for r in con.execute(
                "SELECT id FROM _gone_users UNION SELECT id FROM _gone_items").fetchall()]
            patterns = pl.DataFrame({"pattern": [_word(i) for i in ids]},
                                    schema={"pattern": pl.String})
            con.register("_gone_patterns", patterns)
            removed["quarantine"] = _delete(
                con, "quarantine", "EXISTS (SELECT 1 FROM _gone_patterns p "
                "WHERE regexp_matches(quarantine.record, p.pattern))")
            con.unregister("_gone_patterns")
        con.execute("DROP TABLE _gone_users")
        con.execute("DROP TABLE _gone_items")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    return {t: n for t, n in removed.items() if n}


def _keys(tables: dict[str, set[str]], *, gone: bool) -> str:
    """SQL for the cache keys of the texts that go (`gone`) or stay: item captions (by
    `item_embeddings`) and chats."""
    negate = "" if gone else "NOT "
    parts = ["SELECT '' WHERE false"]  # never NULL: `NOT IN` a list holding NULL is never true
    if "item_embeddings" in tables:
        parts.append("SELECT content_hash FROM item_embeddings WHERE "
                     f"CAST(item_id AS VARCHAR) {negate}IN (SELECT id FROM _gone_items)")
    if "chats" in tables:
        parts.append(f"SELECT sha256({normalised_text_sql('text')}) FROM chats WHERE "
                     f"CAST(user_id AS VARCHAR) {negate}IN (SELECT id FROM _gone_users)")
    return " UNION ALL ".join(parts)


def _delete(con: duckdb.DuckDBPyConnection, table: str, condition: str) -> int:
    (n,) = con.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchall()[0]
    if n:
        con.execute(f"DELETE FROM {table} WHERE {condition}")
    return int(n)


def remove_media(home_root: Path, paths: Sequence[str]) -> int:
    """Delete a removed generation's files (paths relative to the home, as the control store
    keeps them) and the folder they were in once empty; returns the files deleted. Paths
    that would leave `media/` are ignored."""
    media = (home_root / "media").resolve()
    deleted = 0
    for relative in paths:
        path = (home_root / relative).resolve()
        if media not in path.parents:
            continue
        if path.is_file():
            path.unlink()
            deleted += 1
        folder = path.parent
        if folder != media and folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    return deleted
