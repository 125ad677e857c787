"""Cameo grants: an owner lets a grantee use their likeness, until the owner revokes it.

A grant is one row per (owner, grantee); revoking stamps `revoked_at`, granting again clears
it, so the history of the latest grant is kept and consent reads only live ones. Whether a
video may be shown or generated is decided in `ranking.policy` from what these return.

The reads on the feed path (`live_to`, `is_live`) use the partial index of live grants by
grantee (control migration 3). Every change to a grant also lands in `grant_changes`
(migration 11, by trigger, in commit order): an API process keeps the live grants in memory
(`ranking.live.GrantCache`) and re-reads only the grantees named there since it last looked
(`changes_after`); `prune_changes` drops rows older than the longest a reader may pause.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from reelrank.control.connection import Connection, chunks, marks, rows_as_dicts, stamp
from reelrank.errors import NotFoundError

__all__ = ["CHANGES_KEEP_S", "Change", "all_live", "changes_after", "grant", "is_live", "last_change",
           "list_grants", "live_to", "prune_changes", "revoke"]

#: (seq, grantee whose grants changed; None: erased, re-read every grant)
Change = tuple[int, object]

#: How long the store keeps grant changes (`prune_changes`, by each API server hourly and by
#: the nightly drain); a reader that looked less recently than this reads every grant.
CHANGES_KEEP_S = 86_400.0

_COLUMNS = "owner_id, grantee_id, granted_at, revoked_at"


def _one(con: Connection, owner: object, grantee: object) -> dict[str, object]:
    return rows_as_dicts(con.execute(
        f"SELECT {_COLUMNS} FROM cameo_grants WHERE owner_id = ? AND grantee_id = ?",
        [owner, grantee]))[0]


def grant(con: Connection, owner: object, grantee: object, *, now: datetime
          ) -> dict[str, object]:
    """Grant (or re-grant); a grant that is already live keeps its original time."""
    at = stamp(now)
    con.execute(
        "INSERT INTO cameo_grants (owner_id, grantee_id, granted_at, revoked_at, updated_at) "
        "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (owner_id, grantee_id) DO UPDATE SET "
        "granted_at = CASE WHEN cameo_grants.revoked_at IS NULL THEN cameo_grants.granted_at "
        "ELSE excluded.granted_at END, revoked_at = NULL, updated_at = excluded.updated_at",
        [owner, grantee, at, at])
    return _one(con, owner, grantee)


def revoke(con: Connection, owner: object, grantee: object, *, now: datetime
           ) -> dict[str, object]:
    """Revoke a live grant; `NotFoundError` when there is none."""
    at = stamp(now)
    cur = con.execute(
        "UPDATE cameo_grants SET revoked_at = ?, updated_at = ? "
        "WHERE owner_id = ? AND grantee_id = ? AND revoked_at IS NULL", [at, at, owner, grantee])
    if cur.rowcount != 1:
        raise NotFoundError(f"{owner} has no live grant to {grantee}")
    return _one(con, owner, grantee)


def list_grants(con: Connection, owner: object, *, include_revoked: bool
                ) -> list[dict[str, object]]:
    return rows_as_dicts(con.execute(
        f"SELECT {_COLUMNS} FROM cameo_grants "
        "WHERE owner_id = ? AND (? OR revoked_at IS NULL) ORDER BY granted_at, grantee_id",
        [owner, bool(include_revoked)]))


def is_live(con: Connection, owner: object, grantee: object) -> bool:
    """Whether `owner`'s grant to `grantee` is live right now."""
    return con.execute(
        "SELECT 1 FROM cameo_grants WHERE owner_id = ? AND grantee_id = ? "
        "AND revoked_at IS NULL", [owner, grantee]).fetchone() is not None


def live_to(con: Connection, grantees: Iterable[object]) -> set[tuple[object, object]]:
    """Every live (owner, grantee) pair whose grantee is one of `grantees`: one indexed
    query per 500 grantees, the few a feed page's candidates need."""
    ordered = sorted(set(grantees), key=repr)
    found: set[tuple[object, object]] = set()
    for part in chunks(ordered):
        found.update(con.execute(
            f"SELECT owner_id, grantee_id FROM cameo_grants WHERE revoked_at IS NULL "
            f"AND grantee_id IN ({marks(part)})", part).fetchall())
    return found


def all_live(con: Connection) -> frozenset[tuple[object, object]]:
    """Every live (owner, grantee) pair: for a batch that ranks many users at once."""
    return frozenset(con.execute(
        "SELECT owner_id, grantee_id FROM cameo_grants WHERE revoked_at IS NULL").fetchall())


def last_change(con: Connection) -> int:
    """The newest change's number (0 when there is none): where a full read stands."""
    (seq,) = con.execute("SELECT coalesce(max(seq), 0) FROM grant_changes").fetchone()
    return int(seq)


def changes_after(con: Connection, seq: int, limit: int = 10_000) -> list[Change]:
    """The grant changes after `seq`, oldest first, at most `limit` of them."""
    return [(int(s), g) for s, g in con.execute(
        "SELECT seq, grantee_id FROM grant_changes WHERE seq > ? ORDER BY seq LIMIT ?",
        [seq, limit]).fetchall()]


def prune_changes(con: Connection, before: datetime) -> int:
    """Forget changes made before `before` (a reader that paused longer reads everything)."""
    return con.execute("DELETE FROM grant_changes WHERE changed_at < ?",
                       [stamp(before)]).rowcount
