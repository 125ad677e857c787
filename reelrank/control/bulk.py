"""Whole-table copies of the social state (cameo grants, user settings, guardian rules, user
blocks), for tools that read or rebuild a home's state at once, such as the benchmark that
scales a home up. Not for serving: the feed path reads only the rows a request needs.

Rows are tuples in `TABLES`' column order. Table and column names come from that constant,
never from the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from reelrank.control.connection import Connection, marks, transaction

__all__ = ["TABLES", "read_rows", "replace_social_state"]

TABLES: Mapping[str, tuple[str, ...]] = {
    "cameo_grants": ("owner_id", "grantee_id", "granted_at", "revoked_at", "updated_at"),
    "user_settings": ("user_id", "chat_personalization", "updated_at"),
    "guardians": ("child_id", "guardian_id", "personalization", "scroll_limit",
                  "scroll_override", "override_day", "dm_policy", "linked_at", "updated_at"),
    "user_blocks": ("user_id", "blocked_id", "created_at"),
}


def _known(table: str) -> tuple[str, ...]:
    if table not in TABLES:
        raise ValueError(f"unknown social-state table {table!r}; known: {sorted(TABLES)}")
    return TABLES[table]


def read_rows(con: Connection, table: str) -> list[tuple[object, ...]]:
    """Every row of `table`, in primary-key order."""
    columns = _known(table)
    key = 2 if table in ("cameo_grants", "user_blocks") else 1
    return [tuple(r) for r in con.execute(
        f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(columns[:key])}"
    ).fetchall()]


def replace_social_state(con: Connection, rows: Mapping[str, Iterable[Sequence[object]]]
                         ) -> None:
    """In one transaction, empty the four tables and the daily served counters, then insert
    `rows` (by table; a table not named stays empty)."""
    for table in rows:
        _known(table)
    with transaction(con):
        for table in (*TABLES, "served_today"):
            con.execute(f"DELETE FROM {table}")
        for table, values in rows.items():
            columns = TABLES[table]
            con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                            f"VALUES ({marks(columns)})", values)
