"""Erasing a user: from the control store at once, in one transaction, and a tombstone that
carries the erasure to the warehouse, the next snapshot and every feed.

What `erase` removes, everything by or about them: their settings; blocks they made and
blocks of them; cameo grants they gave and received (a video showing them needs their live
grant, hard rule 1, so their likeness leaves every feed on the next request); their
supervision link and unlink tombstones naming them; served counters and served history;
their tokens; their inbox events, drained or not; their sign-up; their generation requests;
their steering, mutes and "see fewer" rows (and others' "see fewer" naming them as creator);
and the finished generations they made or appear in, with those items' moderator labels
(the files are the caller's to delete: `Erasure.media`).
A guardian who still has linked children is refused (`ConflictError`): a child must not
lose supervision as a side effect; the service unlinks them first.

The credit ledger is the exception. It is append-only (a financial record: its triggers
refuse updates and deletes), so erasure does not rewrite it: it closes the account with one
`erasure` entry that brings the balance to zero, and the rows that stay hold the user id,
amounts, reasons, request ids and times, no content.

What is kept is the id alone, in `erased_users`: so that nothing about them is loaded again
(ingest refuses their records, the API their events and sign-up), so that the next pipeline
run erases them from the warehouse (`pending`, then `mark_applied`), and so that their own
videos stay out of every feed online until `hidden_until` (`hidden`), longer than any
snapshot still holding them is served.

SQLite-specific: `json_each` over a generated item's cameo list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reelrank.control.connection import Connection, chunks, marks, stamp, transaction
from reelrank.control.credits import close_account
from reelrank.errors import ConflictError

__all__ = ["Erasure", "all_erased", "erase", "erased_among", "hidden", "is_erased",
           "mark_applied", "pending"]

# (table, condition on the user, parameters it takes): the rows erase deletes. Constants,
# never caller text.
_ROWS: tuple[tuple[str, str, int], ...] = (
    ("user_settings", "user_id = ?", 1),
    ("user_blocks", "user_id = ? OR blocked_id = ?", 2),
    ("cameo_grants", "owner_id = ? OR grantee_id = ?", 2),
    ("guardians", "child_id = ?", 1),
    ("guardian_unlinks", "child_id = ? OR guardian_id = ?", 2),
    ("served_today", "user_id = ?", 1),
    ("served_history", "user_id = ?", 1),
    ("api_tokens", "subject_id = ? AND scope IN ('user', 'guardian')", 1),
    ("event_inbox", "user_id = ?", 1),
    ("registered_users", "user_id = ?", 1),
    ("generation_requests", "requester_id = ?", 1),
    ("user_steering", "user_id = ?", 1),
    ("user_mutes", "user_id = ?", 1),
    ("user_see_fewer", "user_id = ? OR creator_id = ?", 2),
    ("experiment_exposures", "user_id = ?", 1),
)
_THEIR_ITEMS = ("creator_id = ? OR EXISTS (SELECT 1 FROM json_each(generated_items."
                "cameo_user_ids) WHERE json_each.value = ?)")


@dataclass(frozen=True)
class Erasure:
    user_id: object
    erased_at: str
    removed: dict[str, int] = field(default_factory=dict)   # table -> rows deleted
    media: tuple[str, ...] = ()        # files of removed generations, relative to the home
    credits_closed: int = 0            # the balance the closing ledger entry took away


def is_erased(con: Connection, user: object) -> bool:
    return con.execute("SELECT 1 FROM erased_users WHERE user_id = ?",
                       [user]).fetchone() is not None


def erased_among(con: Connection, users: Sequence[object]) -> set[object]:
    out: set[object] = set()
    for part in chunks(sorted(set(users), key=repr)):
        out.update(r[0] for r in con.execute(
            f"SELECT user_id FROM erased_users WHERE user_id IN ({marks(part)})",
            part).fetchall())
    return out


def erase(con: Connection, user: object, *, now: datetime, hide_until: datetime
          ) -> Erasure:
    """Erase `user` from the control store and leave their tombstone. `ConflictError` when
    they are a guardian with linked children, or already erased."""
    at = stamp(now)
    with transaction(con):
        if is_erased(con, user):
            raise ConflictError(f"user {user!r} is already erased")
        (children,) = con.execute("SELECT count(*) FROM guardians WHERE guardian_id = ?",
                                  [user]).fetchone()
        if children:
            raise ConflictError(
                f"user {user!r} is the guardian of {children} linked account(s); unlink "
                "them first (DELETE /v1/guardian/links/{child_id}): erasure must not end a "
                "child's supervision as a side effect")
        removed = {}
        for table, condition, params in _ROWS:
            removed[table] = con.execute(f"DELETE FROM {table} WHERE {condition}",
                                         [user] * params).rowcount
        # The grants' change feed keeps no id of theirs: their rows (the deletions just
        # made among them) become "re-read every grant" for whoever has not read them yet.
        con.execute("UPDATE grant_changes SET grantee_id = NULL WHERE grantee_id = ?", [user])
        media = [p for row in con.execute(
            f"SELECT media_path, thumbnail_path FROM generated_items WHERE {_THEIR_ITEMS}",
            [user, user]).fetchall() for p in row]
        removed["item_labels"] = con.execute(
            f"DELETE FROM item_labels WHERE item_id IN (SELECT item_id FROM generated_items "
            f"WHERE {_THEIR_ITEMS})", [user, user]).rowcount
        removed["experiment_exposures_of_items"] = con.execute(
            f"DELETE FROM experiment_exposures WHERE item_id IN (SELECT item_id FROM "
            f"generated_items WHERE {_THEIR_ITEMS})", [user, user]).rowcount
        removed["generated_items"] = con.execute(
            f"DELETE FROM generated_items WHERE {_THEIR_ITEMS}", [user, user]).rowcount
        closed = close_account(con, user, now=now)
        con.execute("INSERT INTO erased_users (user_id, erased_at, hidden_until) "
                    "VALUES (?, ?, ?)", [user, at, stamp(hide_until)])
    return Erasure(user, at, {t: n for t, n in removed.items() if n}, tuple(media), closed)


def pending(con: Connection) -> list[object]:
    """Erased users the warehouse has not been cleared of yet."""
    return [r[0] for r in con.execute(
        "SELECT user_id FROM erased_users WHERE applied_at IS NULL ORDER BY erased_at"
    ).fetchall()]


def all_erased(con: Connection) -> list[object]:
    """Every erased id (for ingest, which loads nothing about them again)."""
    return [r[0] for r in con.execute("SELECT user_id FROM erased_users").fetchall()]


def mark_applied(con: Connection, users: Sequence[object], *, now: datetime) -> int:
    """Record that the warehouse no longer holds anything of `users`."""
    done = 0
    with transaction(con):
        for part in chunks(list(users)):
            done += con.execute(
                f"UPDATE erased_users SET applied_at = ? WHERE user_id IN ({marks(part)}) "
                "AND applied_at IS NULL", [stamp(now), *part]).rowcount
    return done


def hidden(con: Connection, now: datetime) -> list[object]:
    """Erased users whose own videos are still kept out of every feed at `now`."""
    return [r[0] for r in con.execute(
        "SELECT user_id FROM erased_users WHERE hidden_until > ?", [stamp(now)]).fetchall()]
