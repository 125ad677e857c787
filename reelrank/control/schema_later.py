"""The control store's later migrations (9 on: the user's own controls, experiments), in a
module of their own so neither file passes 350 lines; `schema` appends them
to `CONTROL_MIGRATIONS`. The same conventions as `schema`: untyped id columns, `stamp` text
times, SQLite's statements."""

from __future__ import annotations

from reelrank.migrate import Migration

__all__ = ["LATER_MIGRATIONS"]

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
)
