"""The one policy module: every hard rule that decides what a user may be shown and how.

Called by the nightly batch scorer and by the API alike, always against the *live* control
store, so a revocation, an opt-out or a guardian change counts on the very next request:

- signals: personalized or not (a guardian can switch it off for a supervised account;
  then no per-user signal is used at all), and chat-history interests or not;
- servable items: safety labels, already seen, blocked creators, cameo consent (each a
  small filter in `ranking/filters/`, applied here cheapest first and counted by name);
- how many items may still be served today (a guardian's scroll limit, or its override
  for today), and recording what was served;
- whether one user may message another (everyone / friends / nobody).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from ranking.live import GrantReader, LiveState, UserPolicy, live_grants
from ranking.pipeline import FEED
from reelrank.errors import ReelrankError

__all__ = [
    "DmDecision", "GrantReader", "LiveState", "UserPolicy", "claim_served", "dm_allowed", "live_grants",
    "missing_consent", "read_live", "servable",
]

DM_POLICIES = ("everyone", "friends", "nobody")
_FEW_USERS = 50  # up to this many users, grants are looked up per page rather than all read


def _in(ids: list[object]) -> str:
    return ",".join("?" * len(ids))


def read_live(control: sqlite3.Connection, users: Iterable[object], today: date
              ) -> LiveState:
    """Each user's settings, guardian rules, blocks and today's served count, in one read
    transaction; and the grants: for a few users (a request) a reader that asks for the
    pairs their candidates need, for many (a batch chunk) every live grant at once."""
    ids = list(users)
    policies: dict[object, UserPolicy] = {}
    blocks: dict[object, set[object]] = {}
    control.execute("BEGIN")
    try:
        grants: frozenset[tuple[object, object]] | GrantReader = GrantReader(control)
        if len(ids) > _FEW_USERS:
            grants = frozenset(control.execute(
                "SELECT owner_id, grantee_id FROM cameo_grants WHERE revoked_at IS NULL"
            ).fetchall())
        chat, guard, served = {}, {}, {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = _in(part)
            chat.update(control.execute(
                f"SELECT user_id, chat_personalization FROM user_settings "
                f"WHERE user_id IN ({marks})", part).fetchall())
            for row in control.execute(
                    f"SELECT child_id, personalization, scroll_limit, scroll_override, "
                    f"override_day, dm_policy FROM guardians WHERE child_id IN ({marks})",
                    part).fetchall():
                guard[row[0]] = row[1:]
            served.update(control.execute(
                f"SELECT user_id, served FROM served_today WHERE day = ? "
                f"AND user_id IN ({marks})", [today.isoformat(), *part]).fetchall())
            for user, blocked in control.execute(
                    f"SELECT user_id, blocked_id FROM user_blocks WHERE user_id IN ({marks})",
                    part).fetchall():
                blocks.setdefault(user, set()).add(blocked)
    finally:
        control.execute("COMMIT")
    for user in ids:
        rules = guard.get(user)
        if rules is None:
            policies[user] = UserPolicy(user, chat_history=bool(chat.get(user, 0)),
                                        served_today=int(served.get(user, 0)))
            continue
        personalization, limit, override, override_day, dm = rules
        if override is not None and override_day == today.isoformat():
            limit = override
        policies[user] = UserPolicy(
            user, personalized=bool(personalization),
            chat_history=bool(personalization) and bool(chat.get(user, 0)),
            supervised=True, daily_limit=limit, served_today=int(served.get(user, 0)),
            dm_policy=dm)
    return LiveState(grants, {u: frozenset(b) for u, b in blocks.items()}, policies)


def servable(snap, query, live: LiveState, rows: np.ndarray, filters: tuple | None = None
             ) -> tuple[np.ndarray, dict[str, int]]:
    """(mask of `rows` that may be shown to `query`'s user, removals per filter name).
    `filters`: the feed definition's (`ranking.pipeline.FEED`), cheapest first."""
    keep = np.ones(len(rows), dtype=bool)
    removed: dict[str, int] = {}
    for component in filters or FEED.filters:
        if not component.applies(query.policy):
            continue
        gone = component.drop(snap, query, live, rows) & keep
        removed[component.NAME] = int(gone.sum())
        keep &= ~gone
    return keep, removed


def missing_consent(control: sqlite3.Connection, creator: object,
                    people: Iterable[object]) -> list[object]:
    """The people (in order) whose likeness `creator` may not use right now: not the
    creator, and no live grant from them to the creator. The generation worker asks this at
    submission and again inside its publishing transaction; serving asks the same of the
    live grants it read (`ranking.filters.consent`)."""
    missing = []
    for owner in people:
        if owner == creator:
            continue
        live = control.execute("SELECT 1 FROM cameo_grants WHERE owner_id = ? AND "
                               "grantee_id = ? AND revoked_at IS NULL",
                               [owner, creator]).fetchone()
        if live is None:
            missing.append(owner)
    return missing


def claim_served(control: sqlite3.Connection, policy: UserPolicy, wanted: int, now: datetime
                 ) -> int:
    """Count up to `wanted` items as served today and return how many may be shown: all of
    them without a limit; otherwise at most what is left, decided atomically so two
    concurrent requests cannot both spend the last items."""
    if not policy.supervised:
        # Only a guardian's limit is counted: no durable write on an unlimited page.
        return wanted
    day = now.astimezone(UTC).date().isoformat()
    control.execute("BEGIN IMMEDIATE")
    try:
        (served,) = control.execute(
            "SELECT coalesce((SELECT served FROM served_today WHERE user_id = ? AND day = ?), 0)",
            [policy.user_id, day]).fetchone()
        limit = _limit_now(control, policy.user_id, day)
        grant = wanted if limit is None else max(min(wanted, limit - served), 0)
        if grant:
            control.execute(
                "INSERT INTO served_today (user_id, day, served) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, day) DO UPDATE SET served = served + excluded.served",
                [policy.user_id, day, grant])
    except BaseException:
        control.execute("ROLLBACK")
        raise
    control.execute("COMMIT")
    return grant


def _limit_now(control: sqlite3.Connection, user: object, day: str) -> int | None:
    row = control.execute("SELECT scroll_limit, scroll_override, override_day FROM guardians "
                          "WHERE child_id = ?", [user]).fetchone()
    if row is None:
        return None
    limit, override, override_day = row
    return override if override is not None and override_day == day else limit


@dataclass(frozen=True)
class DmDecision:
    allowed: bool
    reason: str


def dm_allowed(control: sqlite3.Connection, sender: object, recipient: object,
               are_friends: Callable[[object, object], bool]) -> DmDecision:
    """May `sender` message `recipient`? A supervised recipient follows the guardian's
    policy; anyone may refuse people they blocked."""
    if sender == recipient:
        raise ReelrankError("sender and recipient are the same user")
    blocked = control.execute("SELECT 1 FROM user_blocks WHERE user_id = ? AND blocked_id = ?",
                              [recipient, sender]).fetchone()
    if blocked:
        return DmDecision(False, f"{recipient} has blocked {sender}")
    row = control.execute("SELECT dm_policy FROM guardians WHERE child_id = ?",
                          [recipient]).fetchone()
    if row is None:
        return DmDecision(True, f"{recipient} accepts messages from everyone")
    (rule,) = row
    if rule == "everyone":
        return DmDecision(True, f"{recipient}'s guardian allows messages from everyone")
    if rule == "nobody":
        return DmDecision(False, f"{recipient}'s guardian allows no direct messages")
    if are_friends(sender, recipient):
        return DmDecision(True, f"{sender} is a friend of {recipient}")
    return DmDecision(False, f"{recipient}'s guardian allows messages from friends only")
