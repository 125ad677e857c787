"""Moderators' safety labels: a live override of an item's rating (safe / sensitive /
unsafe), for any item, from the snapshot or generated today.

The table is a log: each change is a new row, and an item's label is its newest row, so
every change is kept with who made it and why, and pollers read "what changed since `seq`"
(one indexed range read) exactly as they read new generations. What a label means for a
feed (unsafe: nobody; anything but safe: no supervised account) is decided in
`ranking.policy`'s filters; serving applies the changes on the next request, the batch
scorer reads `current_labels`, and the nightly run folds them into the warehouse.
"""

from __future__ import annotations

from datetime import datetime

from reelrank.control.connection import Connection, rows_as_dicts, stamp

__all__ = ["LABELS", "current_labels", "label_changes", "label_of", "reviews_after",
           "set_label"]

LABELS = ("safe", "sensitive", "unsafe")  # a moderator decides; "unrated" is nobody's word

_SELECT = "SELECT seq, item_id, label, set_by, reason, set_at FROM item_labels "


def set_label(con: Connection, item_id: object, label: str, *, by: str | None,
              reason: str | None, now: datetime) -> dict[str, object]:
    """Record `label` as `item_id`'s label from now on; returns the stored row."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    # fetchall: an INSERT ... RETURNING finishes only once its rows are read.
    ((seq,),) = con.execute(
        "INSERT INTO item_labels (item_id, label, set_by, reason, set_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING seq", [item_id, label, by, reason, stamp(now)]
    ).fetchall()
    return rows_as_dicts(con.execute(_SELECT + "WHERE seq = ?", [seq]))[0]


def label_of(con: Connection, item_id: object) -> dict[str, object] | None:
    """The item's newest label row, or None when no moderator labelled it."""
    rows = rows_as_dicts(con.execute(
        _SELECT + "WHERE item_id = ? ORDER BY seq DESC LIMIT 1", [item_id]))
    return rows[0] if rows else None


def label_changes(con: Connection, after_seq: int = 0, limit: int = 1000
                  ) -> list[tuple[int, object, str]]:
    """(seq, item_id, label) of the changes after `after_seq`, oldest first, at most
    `limit`; poll again from the last seq."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return [tuple(r) for r in con.execute(
        "SELECT seq, item_id, label FROM item_labels WHERE seq > ? ORDER BY seq LIMIT ?",
        [after_seq, limit]).fetchall()]


def reviews_after(con: Connection, after_seq: int = 0, limit: int = 1000
                  ) -> list[tuple[int, object, str]]:
    """(seq, item_id, set_at) of the labels set after `after_seq`, oldest first: when a
    moderator last looked at each item (reports before that are answered)."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return [tuple(r) for r in con.execute(
        "SELECT seq, item_id, set_at FROM item_labels WHERE seq > ? ORDER BY seq LIMIT ?",
        [after_seq, limit]).fetchall()]


def current_labels(con: Connection) -> dict[object, str]:
    """Every labelled item's label now (its newest row)."""
    return dict(con.execute(
        "SELECT l.item_id, l.label FROM item_labels l JOIN "
        "(SELECT item_id, max(seq) AS seq FROM item_labels GROUP BY item_id) newest "
        "ON newest.seq = l.seq").fetchall())
