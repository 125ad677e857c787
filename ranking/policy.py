"""The one policy module: every hard rule that decides what a user may be shown and how.

Called by the nightly batch scorer and by the API alike, always against the *live* control
store, so a revocation, an opt-out or a guardian change counts on the very next request:

- signals: personalized or not (a guardian can switch it off for a supervised account;
  then no per-user signal is used at all), and chat-history interests or not;
- servable items: safety ratings (unsafe for nobody; only safe for a supervised account;
  moderators' live labels count), already seen, blocked creators, cameo consent, the
  user's own mutes and steering "no" (each a small filter in `ranking/filters/`, applied
  here cheapest first and counted by name);
- how many items may still be served today (a guardian's scroll limit, or its override
  for today), and recording what was served;
- whether one user may message another (both exist, no block either way, and each
  supervised side's guardian policy: everyone / friends / nobody).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np

from ranking.controls import UserControls
from ranking.directory import Directory
from ranking.live import GrantCache, GrantReader, LiveState, UserPolicy, live_grants
from ranking.pipeline import FEED
from reelrank.control.blocks import blocked_by, blocks_between
from reelrank.control.connection import Connection, transaction
from reelrank.control.controls import controls_of
from reelrank.control.grants import all_live, is_live
from reelrank.control.guardians import rules_of, scroll_rules
from reelrank.control.served import add_served, served_on, served_today
from reelrank.control.user_settings import chat_of
from reelrank.errors import ReelrankError

__all__ = [
    "DmDecision", "GrantCache", "GrantReader", "LiveState", "UserPolicy", "claim_served",
    "dm_allowed", "live_grants", "missing_consent", "read_live", "servable",
]

DM_POLICIES = ("everyone", "friends", "nobody")
_FEW_USERS = 50  # up to this many users, grants are looked up per page rather than all read


def read_live(control: Connection, users: Iterable[object], today: date | datetime, *,
              grants: GrantCache | None = None) -> LiveState:
    """Each user's settings, guardian rules, blocks, own controls and today's served count,
    in one read transaction; and the grants: `grants` (a server's cache of them) brought up
    to date in that transaction, else for a few users (a request) a reader that asks for the
    pairs their candidates need, for many (a batch chunk) every live grant at once.
    `today`: the moment (a "see fewer" in force then counts), or its day (from its start)."""
    ids = list(users)
    now = today if isinstance(today, datetime) else datetime.combine(today, time(), UTC)
    today = today.date() if isinstance(today, datetime) else today
    policies: dict[object, UserPolicy] = {}
    with transaction(control, read_only=True):
        live: frozenset[tuple[object, object]] | GrantReader | GrantCache = GrantReader(control)
        if grants is not None:
            grants.refresh(control)
            live = grants
        elif len(ids) > _FEW_USERS:
            live = all_live(control)
        chat = chat_of(control, ids)
        guard = rules_of(control, ids)
        served = served_today(control, ids, today.isoformat())
        blocks = blocked_by(control, ids)
        controls = controls_of(control, ids, now)
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
    return LiveState(live, {u: frozenset(b) for u, b in blocks.items()}, policies,
                     {u: UserControls.from_rows(c) for u, c in controls.items()})


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


def missing_consent(control: Connection, creator: object,
                    people: Iterable[object]) -> list[object]:
    """The people (in order) whose likeness `creator` may not use right now: not the
    creator, and no live grant from them to the creator. The generation worker asks this at
    submission and again inside its publishing transaction; serving asks the same of the
    live grants it read (`ranking.filters.consent`)."""
    missing = []
    for owner in people:
        if owner == creator:
            continue
        if not is_live(control, owner, creator):
            missing.append(owner)
    return missing


def claim_served(control: Connection, policy: UserPolicy, wanted: int, now: datetime
                 ) -> int:
    """Count up to `wanted` items as served today and return how many may be shown: all of
    them without a limit; otherwise at most what is left, decided atomically so two
    concurrent requests cannot both spend the last items."""
    if not policy.supervised:
        # Only a guardian's limit is counted: no durable write on an unlimited page.
        return wanted
    day = now.astimezone(UTC).date().isoformat()
    with transaction(control):
        served = served_on(control, policy.user_id, day)
        limit = _limit_now(scroll_rules(control, policy.user_id), day)
        grant = wanted if limit is None else max(min(wanted, limit - served), 0)
        if grant:
            add_served(control, policy.user_id, day, grant)
    return grant


def _limit_now(row: tuple[int | None, int | None, str | None] | None, day: str) -> int | None:
    if row is None:
        return None
    limit, override, override_day = row
    return override if override is not None and override_day == day else limit


@dataclass(frozen=True)
class DmDecision:
    """`reason` is the whole why, for a service (the app's backend). A user is told only
    `told_sender`: a refusal never says who blocked whom or what a guardian allows."""

    allowed: bool
    reason: str

    @property
    def told_sender(self) -> str:
        return "allowed" if self.allowed else "not allowed"


def dm_allowed(control: Connection, sender: object, recipient: object,
               are_friends: Callable[[object, object], bool], directory: Directory
               ) -> DmDecision:
    """May `sender` message `recipient`? Both must exist (`directory`); neither may have
    blocked the other; a supervised sender follows its guardian's policy for messages it
    sends, a supervised recipient its guardian's for messages it receives (everyone /
    friends / nobody).

    Every fact is read before any is judged, in one read transaction and the same
    statements whoever is asked about, so neither the answer told to a user nor its timing
    tells "blocked you" from "a child whose guardian allows friends only" from "no such
    user"."""
    if sender == recipient:
        raise ReelrankError("sender and recipient are the same user")
    pair = [sender, recipient]
    with transaction(control, read_only=True):
        known = directory.known_users(control, pair)
        blocks = blocks_between(control, sender, recipient)
        rules = {user: rule[4] for user, rule in rules_of(control, pair).items()}
    friends = are_friends(sender, recipient)
    for user in pair:
        if user not in known:
            return DmDecision(False, f"{user} is not a user of this home")
    if (recipient, sender) in blocks:
        return DmDecision(False, f"{recipient} has blocked {sender}")
    if (sender, recipient) in blocks:
        return DmDecision(False, f"{sender} has blocked {recipient}")
    own = rules.get(sender)
    if own == "nobody":
        return DmDecision(False, f"{sender}'s guardian allows no direct messages")
    if own == "friends" and not friends:
        return DmDecision(False, f"{sender}'s guardian allows messages with friends only")
    rule = rules.get(recipient)
    if rule is None:
        return DmDecision(True, f"{recipient} accepts messages from everyone")
    if rule == "everyone":
        return DmDecision(True, f"{recipient}'s guardian allows messages from everyone")
    if rule == "nobody":
        return DmDecision(False, f"{recipient}'s guardian allows no direct messages")
    if friends:
        return DmDecision(True, f"{sender} is a friend of {recipient}")
    return DmDecision(False, f"{recipient}'s guardian allows messages from friends only")
