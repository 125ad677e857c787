"""The control store's later migrations (9 on: the user's own controls, experiments, the
cameo grants' change feed), in a
module of their own so neither file passes 350 lines; `schema` appends them
to `CONTROL_MIGRATIONS`. The same conventions as `schema`: untyped id columns, `stamp` text
times, SQLite's statements."""

from __future__ import annotations

from reelrank.migrate import Migration

__all__ = ["LATER_MIGRATIONS"]

# The store's timestamp format (`connection.stamp`), to the millisecond, in SQLite's SQL.
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

LATER_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=9,
        description="the user's own controls: steering in their words, muted words and "
        "topics, and \"see fewer like this\"",
        statements=(
            # One steering text per user: as typed, the directions parsed from it (JSON), and
            # each direction's phrase embedded by `model_id` (float32 rows, in order), so the
            # batch applies it without loading a model.
            """CREATE TABLE user_steering (
                user_id PRIMARY KEY NOT NULL,
                text TEXT NOT NULL,
                directions TEXT NOT NULL,
                model_id TEXT NOT NULL,
                dim INTEGER NOT NULL CHECK (dim >= 1),
                vectors BLOB NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE user_mutes (
                user_id NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('word', 'topic')),
                value TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (user_id, kind, value)
            )""",
            # "See fewer like this" on an item: its topic and creator as resolved then,
            # demoted until `until`.
            """CREATE TABLE user_see_fewer (
                user_id NOT NULL,
                item_id NOT NULL,
                topic TEXT,
                creator_id,
                created_at TEXT NOT NULL,
                until TEXT NOT NULL,
                PRIMARY KEY (user_id, item_id)
            )""",
            "CREATE INDEX user_see_fewer_by_until ON user_see_fewer (until)",
        ),
    ),
    Migration(
        version=10,
        description="experiments as data, and which experiment, variant and interleaving "
        "team served each item",
        statements=(
            """CREATE TABLE experiments (
                name TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('ab', 'interleave')),
                variants TEXT NOT NULL,
                share REAL NOT NULL CHECK (share > 0 AND share <= 1),
                salt TEXT NOT NULL,
                starts_at TEXT NOT NULL,
                ends_at TEXT,
                stopped_at TEXT,
                created_at TEXT NOT NULL
            )""",
            # One row per item served under an experiment: its variant (ab) or the team
            # whose pick it was (interleave), the request and position, so events can be
            # joined to the request that served the item.
            """CREATE TABLE experiment_exposures (
                request_id TEXT NOT NULL,
                position INTEGER NOT NULL CHECK (position >= 1),
                experiment TEXT NOT NULL,
                variant TEXT NOT NULL,
                team TEXT,
                user_id NOT NULL,
                item_id NOT NULL,
                served_at TEXT NOT NULL,
                PRIMARY KEY (request_id, position)
            )""",
            ("CREATE INDEX experiment_exposures_by_experiment ON experiment_exposures "
             "(experiment, served_at)"),
        ),
    ),
    Migration(
        version=11,
        description="the cameo grants' change feed: one row per changed grant, in commit "
        "order, so a server keeps the live grants in memory and re-reads only what changed",
        statements=(
            # `grantee_id`: the creator whose grants changed (a reader re-reads all of that
            # creator's live grants); NULL once erasure has removed the id, which tells a
            # reader to re-read everything. One writer at a time (the store's write lock),
            # so `seq` order is commit order: a reader that has seen `seq` n has seen all
            # before it.
            """CREATE TABLE grant_changes (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                grantee_id,
                changed_at TEXT NOT NULL
            )""",
            "CREATE INDEX grant_changes_by_time ON grant_changes (changed_at)",
            ("CREATE TRIGGER cameo_grants_inserted AFTER INSERT ON cameo_grants BEGIN "
             "INSERT INTO grant_changes (grantee_id, changed_at) VALUES (NEW.grantee_id, "
             f"{_NOW}); END"),
            ("CREATE TRIGGER cameo_grants_updated AFTER UPDATE ON cameo_grants BEGIN "
             "INSERT INTO grant_changes (grantee_id, changed_at) VALUES (OLD.grantee_id, "
             f"{_NOW}); INSERT INTO grant_changes (grantee_id, changed_at) SELECT "
             f"NEW.grantee_id, {_NOW} WHERE NEW.grantee_id IS NOT OLD.grantee_id; END"),
            ("CREATE TRIGGER cameo_grants_deleted AFTER DELETE ON cameo_grants BEGIN "
             "INSERT INTO grant_changes (grantee_id, changed_at) VALUES (OLD.grantee_id, "
             f"{_NOW}); END"),
        ),
    ),
)
