"""Everything the control store holds about one user, for their own export (GET
/v1/me/export): a read of every table that names them, in one read transaction, so the
parts agree with each other."""

from __future__ import annotations

import json

from reelrank.control.accounts import registered
from reelrank.control.blocks import list_blocks
from reelrank.control.connection import Connection, rows_as_dicts, transaction
from reelrank.control.controls import list_mutes, read_steering
from reelrank.control.credits import balance, entries
from reelrank.control.guardians import child_rules, children_of
from reelrank.control.inbox import events_of
from reelrank.control.user_settings import read_settings

__all__ = ["held_about"]


def held_about(con: Connection, user: object) -> dict[str, object]:
    """The user's rows, by what they are."""
    with transaction(con, read_only=True):
        requests = rows_as_dicts(con.execute(
            "SELECT request_id, prompt, cameo_user_ids, remix_of, status, reason, attempts, "
            "item_id, created_at, updated_at FROM generation_requests WHERE requester_id = ? "
            "ORDER BY created_at, request_id", [user]))
        items = rows_as_dicts(con.execute(
            "SELECT item_id, request_id, created_at, text, cameo_user_ids, remix_of, "
            "duration_s, media_path, thumbnail_path FROM generated_items "
            "WHERE creator_id = ? ORDER BY seq", [user]))
        for row in (*requests, *items):
            row["cameo_user_ids"] = json.loads(str(row["cameo_user_ids"]))
        return {
            "registration": registered(con, user),
            "settings": read_settings(con, user),
            "blocks": list_blocks(con, user),
            "blocked_by": [r[0] for r in con.execute(
                "SELECT user_id FROM user_blocks WHERE blocked_id = ? ORDER BY user_id",
                [user]).fetchall()],
            "grants_given": rows_as_dicts(con.execute(
                "SELECT grantee_id, granted_at, revoked_at FROM cameo_grants "
                "WHERE owner_id = ? ORDER BY granted_at, grantee_id", [user])),
            "grants_received": rows_as_dicts(con.execute(
                "SELECT owner_id, granted_at, revoked_at FROM cameo_grants "
                "WHERE grantee_id = ? ORDER BY granted_at, owner_id", [user])),
            "supervision": child_rules(con, user),
            "children": children_of(con, user),
            "served": rows_as_dicts(con.execute(
                "SELECT day, served FROM served_today WHERE user_id = ? ORDER BY day",
                [user])),
            "events": events_of(con, user),
            "generation_requests": requests,
            "generated_items": items,
            "credits": {"balance": balance(con, user), "ledger": entries(con, user)},
            "steering": _steering(read_steering(con, user)),
            "mutes": list_mutes(con, user),
            "see_fewer": rows_as_dicts(con.execute(
                "SELECT item_id, topic, creator_id, created_at, until FROM user_see_fewer "
                "WHERE user_id = ? ORDER BY created_at", [user])),
            "tokens": rows_as_dicts(con.execute(
                "SELECT scope, label, created_at, revoked_at FROM api_tokens "
                "WHERE subject_id = ? AND scope IN ('user', 'guardian') ORDER BY created_at",
                [user])),
        }


def _steering(row: dict[str, object] | None) -> dict[str, object] | None:
    """The steering as the user wrote it and as it was parsed (not its vectors)."""
    if row is None:
        return None
    return {k: row[k] for k in ("text", "directions", "model_id", "updated_at")}
