"""Supervised accounts: which guardian a child is linked to, and the rules the guardian set
(personalization, a daily scroll limit and today's override of it, the DM policy).

These read and write the rules; what they mean for a feed or a message is decided in
`ranking.policy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from reelrank.control.connection import (
    Connection,
    chunks,
    marks,
    rows_as_dicts,
    stamp,
    transaction,
)
from reelrank.errors import ConflictError, NotFoundError

__all__ = [
    "child_rules", "children_of", "dm_policy", "link", "rules_of", "scroll_rules",
    "set_override", "unlink", "update_rules",
]

_SELECT = ("SELECT child_id, guardian_id, personalization, scroll_limit, scroll_override, "
           "override_day, dm_policy, linked_at, updated_at FROM guardians ")
_RULES = ("personalization", "scroll_limit", "dm_policy")


def child_rules(con: Connection, child: object) -> dict[str, object] | None:
    """The child's link and rules, or None when `child` is not supervised."""
    rows = rows_as_dicts(con.execute(_SELECT + "WHERE child_id = ?", [child]))
    return rows[0] if rows else None


def children_of(con: Connection, guardian: object) -> list[dict[str, object]]:
    return rows_as_dicts(con.execute(
        _SELECT + "WHERE guardian_id = ? ORDER BY linked_at, child_id", [guardian]))


def _require_one(rowcount: int, child: object) -> None:
    if rowcount != 1:
        raise NotFoundError(f"{child} is not a supervised account")


def update_rules(con: Connection, child: object, changes: Mapping[str, object], *,
                 now: datetime) -> None:
    """Set the rules named in `changes` (personalization, scroll_limit, dm_policy); the
    others keep their value. Each column has a fixed statement part and a 'given' flag."""
    unknown = set(changes) - set(_RULES)
    if unknown:
        raise ValueError(f"unknown guardian rules {sorted(unknown)}; known: {_RULES}")
    has = {name: name in changes for name in _RULES}
    value = {name: changes.get(name) for name in _RULES}
    if value["personalization"] is not None:
        value["personalization"] = int(bool(value["personalization"]))
    cur = con.execute(
        "UPDATE guardians SET "
        "personalization = CASE WHEN ? THEN ? ELSE personalization END, "
        "scroll_limit = CASE WHEN ? THEN ? ELSE scroll_limit END, "
        "dm_policy = CASE WHEN ? THEN ? ELSE dm_policy END, "
        "updated_at = ? WHERE child_id = ?",
        [has["personalization"], value["personalization"], has["scroll_limit"],
         value["scroll_limit"], has["dm_policy"], value["dm_policy"], stamp(now), child])
    _require_one(cur.rowcount, child)


def set_override(con: Connection, child: object, limit: int | None, *, now: datetime
                 ) -> None:
    """Today's (UTC) limit instead of the usual one; None clears it."""
    day = now.date().isoformat() if limit is not None else None
    cur = con.execute(
        "UPDATE guardians SET scroll_override = ?, override_day = ?, updated_at = ? "
        "WHERE child_id = ?", [limit, day, stamp(now), child])
    _require_one(cur.rowcount, child)


def link(con: Connection, guardian: object, child: object, *, now: datetime
         ) -> tuple[dict[str, object], bool]:
    """Link `child` to `guardian` with the default rules; (rules, newly linked). A child
    already supervised by someone else must be unlinked first (`ConflictError`)."""
    with transaction(con):
        current = child_rules(con, child)
        if current is not None and current["guardian_id"] != guardian:
            raise ConflictError(f"{child} is already linked to another guardian; unlink first")
        if current is None:
            at = stamp(now)
            con.execute(
                "INSERT INTO guardians (child_id, guardian_id, linked_at, updated_at) "
                "VALUES (?, ?, ?, ?)", [child, guardian, at, at])
            con.execute("DELETE FROM guardian_unlinks WHERE child_id = ?", [child])
        rules = child_rules(con, child)
    assert rules is not None
    return rules, current is None


def unlink(con: Connection, child: object, *, now: datetime | None = None) -> None:
    """End the supervision of `child` (`NotFoundError` when there is none), leaving a
    tombstone, so that replaying an older guardians file cannot link the child again."""
    at = stamp(now or datetime.now(UTC))
    with transaction(con):
        row = con.execute("DELETE FROM guardians WHERE child_id = ? RETURNING guardian_id",
                          [child]).fetchone()
        _require_one(0 if row is None else 1, child)
        con.execute(
            "INSERT INTO guardian_unlinks (child_id, guardian_id, unlinked_at) VALUES (?, ?, ?) "
            "ON CONFLICT (child_id) DO UPDATE SET guardian_id = excluded.guardian_id, "
            "unlinked_at = excluded.unlinked_at", [child, row[0], at])


def rules_of(con: Connection, children: Sequence[object]
             ) -> dict[object, tuple[int, int | None, int | None, str | None, str]]:
    """For each of `children` that is supervised: (personalization, scroll_limit,
    scroll_override, override_day, dm_policy)."""
    out = {}
    for part in chunks(children):
        for row in con.execute(
                "SELECT child_id, personalization, scroll_limit, scroll_override, "
                f"override_day, dm_policy FROM guardians WHERE child_id IN ({marks(part)})",
                part).fetchall():
            out[row[0]] = tuple(row[1:])
    return out


def scroll_rules(con: Connection, child: object
                 ) -> tuple[int | None, int | None, str | None] | None:
    """(scroll_limit, scroll_override, override_day), or None when `child` is not supervised."""
    row = con.execute("SELECT scroll_limit, scroll_override, override_day FROM guardians "
                      "WHERE child_id = ?", [child]).fetchone()
    return None if row is None else tuple(row)


def dm_policy(con: Connection, child: object) -> str | None:
    """The guardian's DM policy for `child`, or None when `child` is not supervised."""
    row = con.execute("SELECT dm_policy FROM guardians WHERE child_id = ?", [child]).fetchone()
    return None if row is None else row[0]
