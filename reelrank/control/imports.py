"""Live state arriving in input files (`reelrank ingest`): cameo grants, user settings and
guardian links, upserted only where a record is newer than what the store holds, so that
replaying an old file can never undo a live change: a revocation (grants keep theirs in
`revoked_at`), a settings change, or an unlink (which leaves a tombstone in
`guardian_unlinks`: a link no newer than the unlink is not restored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reelrank.control.connection import Connection

__all__ = ["TABLES", "upsert"]

_UPSERTS: Mapping[str, str] = {
    "cameo_grants": (
        "INSERT INTO cameo_grants (owner_id, grantee_id, granted_at, revoked_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner_id, grantee_id) DO UPDATE SET "
        "granted_at = excluded.granted_at, revoked_at = excluded.revoked_at, "
        "updated_at = excluded.updated_at WHERE excluded.updated_at > cameo_grants.updated_at"
    ),
    "user_settings": (
        "INSERT INTO user_settings (user_id, chat_personalization, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET chat_personalization = "
        "excluded.chat_personalization, updated_at = excluded.updated_at "
        "WHERE excluded.updated_at > user_settings.updated_at"
    ),
    "guardians": (
        "INSERT INTO guardians (child_id, guardian_id, personalization, scroll_limit, "
        "dm_policy, linked_at, updated_at) SELECT ?, ?, ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM guardian_unlinks u WHERE u.child_id = ? "
        "AND u.unlinked_at >= ?) "
        "ON CONFLICT (child_id) DO UPDATE SET guardian_id = excluded.guardian_id, "
        "personalization = excluded.personalization, scroll_limit = excluded.scroll_limit, "
        "dm_policy = excluded.dm_policy, linked_at = excluded.linked_at, "
        "updated_at = excluded.updated_at WHERE excluded.updated_at > guardians.updated_at"
    ),
}
TABLES = tuple(_UPSERTS)


def upsert(con: Connection, table: str, rows: Sequence[tuple]) -> int:
    """Apply `rows` of `table` (in the contract's column order, timestamps as `stamp`
    text, an `updated_at` last); returns how many changed the store. Runs in the caller's
    transaction (ingest commits the warehouse and the control store together)."""
    if table == "guardians":  # the tombstone check needs the child and the record's time
        rows = [(*row, row[0], row[-1]) for row in rows]
    # The statement's own count: `total_changes` would also count what triggers wrote (a
    # grant's row in the change feed).
    return max(con.executemany(_UPSERTS[table], rows).rowcount, 0)
