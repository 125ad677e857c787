"""Supervised accounts: which guardian a child is linked to, and the rules the guardian set
(personalization, a daily scroll limit and today's override of it, the DM policy)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from api.errors import ConflictError
from api.store import rows_as_dicts, transaction
from reelrank.tokens import stamp

__all__ = [
    "child_rules", "children_of", "link", "set_override", "unlink", "update_rules",
]

_SELECT = ("SELECT child_id, guardian_id, personalization, scroll_limit, scroll_override, "
           "override_day, dm_policy, linked_at, updated_at FROM guardians ")


def child_rules(control: sqlite3.Connection, child: object) -> dict[str, object] | None:
    rows = rows_as_dicts(control.execute(_SELECT + "WHERE child_id = ?", [child]))
    return rows[0] if rows else None


def children_of(control: sqlite3.Connection, guardian: object) -> list[dict[str, object]]:
    return rows_as_dicts(control.execute(
        _SELECT + "WHERE guardian_id = ? ORDER BY linked_at, child_id", [guardian]))


def update_rules(control: sqlite3.Connection, child: object, changes: dict[str, object], *,
                 now: datetime) -> None:
    """Set the rules named in `changes` (personalization, scroll_limit, dm_policy); the
    others keep their value. Each column has a fixed statement part and a 'given' flag."""
    has = {name: int(name in changes) for name in ("personalization", "scroll_limit",
                                                   "dm_policy")}
    value = {name: changes.get(name) for name in has}
    if value["personalization"] is not None:
        value["personalization"] = int(bool(value["personalization"]))
    control.execute(
        "UPDATE guardians SET "
        "personalization = CASE WHEN ? THEN ? ELSE personalization END, "
        "scroll_limit = CASE WHEN ? THEN ? ELSE scroll_limit END, "
        "dm_policy = CASE WHEN ? THEN ? ELSE dm_policy END, "
        "updated_at = ? WHERE child_id = ?",
        [has["personalization"], value["personalization"], has["scroll_limit"],
         value["scroll_limit"], has["dm_policy"], value["dm_policy"], stamp(now), child])


def set_override(control: sqlite3.Connection, child: object, limit: int | None, *,
                 now: datetime) -> None:
    """Today's (UTC) limit instead of the usual one; None clears it."""
    day = now.date().isoformat() if limit is not None else None
    control.execute(
        "UPDATE guardians SET scroll_override = ?, override_day = ?, updated_at = ? "
        "WHERE child_id = ?", [limit, day, stamp(now), child])


def link(control: sqlite3.Connection, guardian: object, child: object, *, now: datetime
         ) -> tuple[dict[str, object], bool]:
    """Link `child` to `guardian` with the default rules; (rules, newly linked). A child
    already supervised by someone else must be unlinked first."""
    with transaction(control):
        current = child_rules(control, child)
        if current is not None and current["guardian_id"] != guardian:
            raise ConflictError(f"{child} is already linked to another guardian; unlink first")
        if current is None:
            at = stamp(now)
            control.execute(
                "INSERT INTO guardians (child_id, guardian_id, linked_at, updated_at) "
                "VALUES (?, ?, ?, ?)", [child, guardian, at, at])
    rules = child_rules(control, child)
    assert rules is not None
    return rules, current is None


def unlink(control: sqlite3.Connection, child: object) -> bool:
    return control.execute("DELETE FROM guardians WHERE child_id = ?", [child]).rowcount > 0
