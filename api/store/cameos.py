"""Cameo grants: an owner lets a grantee use their likeness, until the owner revokes it.

A grant is one row per (owner, grantee); revoking stamps `revoked_at`, granting again
clears it, so the history of the latest grant is kept and the policy reads only live ones.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from api.store import rows_as_dicts
from reelrank.tokens import stamp

__all__ = ["grant", "list_grants", "revoke"]

def _one(control: sqlite3.Connection, owner: object, grantee: object) -> dict[str, object]:
    return rows_as_dicts(control.execute(
        "SELECT owner_id, grantee_id, granted_at, revoked_at FROM cameo_grants "
        "WHERE owner_id = ? AND grantee_id = ?",
        [owner, grantee]))[0]


def grant(control: sqlite3.Connection, owner: object, grantee: object, *, now: datetime
          ) -> dict[str, object]:
    """Grant (or re-grant); a grant that is already live keeps its original time."""
    at = stamp(now)
    control.execute(
        "INSERT INTO cameo_grants (owner_id, grantee_id, granted_at, revoked_at, updated_at) "
        "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (owner_id, grantee_id) DO UPDATE SET "
        "granted_at = CASE WHEN revoked_at IS NULL THEN granted_at ELSE excluded.granted_at END,"
        " revoked_at = NULL, updated_at = excluded.updated_at", [owner, grantee, at, at])
    return _one(control, owner, grantee)


def revoke(control: sqlite3.Connection, owner: object, grantee: object, *, now: datetime
           ) -> dict[str, object] | None:
    """Revoke a live grant; None when there is none."""
    at = stamp(now)
    cur = control.execute(
        "UPDATE cameo_grants SET revoked_at = ?, updated_at = ? "
        "WHERE owner_id = ? AND grantee_id = ? AND revoked_at IS NULL", [at, at, owner, grantee])
    return _one(control, owner, grantee) if cur.rowcount else None


def list_grants(control: sqlite3.Connection, owner: object, *, include_revoked: bool
                ) -> list[dict[str, object]]:
    return rows_as_dicts(control.execute(
        "SELECT owner_id, grantee_id, granted_at, revoked_at FROM cameo_grants "
        "WHERE owner_id = ? AND (? OR revoked_at IS NULL) ORDER BY granted_at, grantee_id",
        [owner, int(include_revoked)]))
