"""The live state a ranking runs under: each user's policy (what the control store says
right now about their personalization, chat setting, supervision and scroll limit), their
blocks, their own controls (steering, mutes, "see fewer") and the live cameo grants. Built by `ranking.policy.read_live`; read by the filters
and the engine."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ranking.controls import NO_CONTROLS, UserControls
from reelrank.control.connection import Connection
from reelrank.control.grants import (
    CHANGES_KEEP_S,
    all_live,
    changes_after,
    last_change,
    live_to,
)

__all__ = ["NO_LIVE_STATE", "GrantCache", "GrantReader", "LiveState", "UserPolicy",
           "live_grants"]

# A cache that has not looked for longer than this reads every grant again: well inside
# how long the store keeps the changes.
_PAUSE_S = CHANGES_KEEP_S / 12
_CHANGES_AT_ONCE = 10_000


@dataclass(frozen=True)
class UserPolicy:
    user_id: object
    personalized: bool = True
    chat_history: bool = False
    supervised: bool = False
    daily_limit: int | None = None   # items per day; None: no limit
    served_today: int = 0
    dm_policy: str = "everyone"

    @property
    def remaining_today(self) -> int | None:
        if self.daily_limit is None:
            return None
        return max(self.daily_limit - self.served_today, 0)


class GrantReader:
    """Live grants looked up for just the (owner, creator) pairs a page needs, by creator
    (indexed), at filter time: one small query instead of reading every grant there is,
    which at a million grants took ~300 ms per request."""

    def __init__(self, control: Connection) -> None:
        self.control = control

    def live(self, pairs: set[tuple[object, object]]) -> set[tuple[object, object]]:
        return pairs & live_to(self.control, {c for _o, c in pairs})


class GrantCache:
    """Every live grant, in memory, for one API process: brought up to date from the store's
    change feed (`grants.changes_after`: the grantees whose grants changed, in commit order)
    at the start of each request, inside the read transaction of its live state
    (`ranking.policy.read_live`). A grant or revocation committed before a request starts
    counts for that request, as when each request looked its grants up itself, for one
    indexed poll instead of a lookup of every candidate creator's grants. The first refresh,
    one after a pause longer than `_PAUSE_S` (the store forgets changes after
    `grants.CHANGES_KEEP_S`), and an erased user's nameless change read every grant again.
    Thread-safe: a refresh replaces a grantee's owners in one assignment, so a concurrent
    check sees the older set or the newer one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[object, frozenset[object]] = {}  # grantee -> owners who granted
        self._seq = -1            # the newest change read; -1: nothing read yet
        self._polled_s = 0.0
        self.reloads = 0          # full reads so far (the first one included)

    @property
    def seq(self) -> int:
        return self._seq

    def refresh(self, control: Connection) -> None:
        """Catch up with the store; call inside a read transaction (one moment of it)."""
        now = time.monotonic()
        with self._lock:
            if self._seq < 0 or now - self._polled_s > _PAUSE_S:
                self._reload(control)
            else:
                self._catch_up(control)
            self._polled_s = now

    def _reload(self, control: Connection) -> None:
        seq = last_change(control)
        owners: dict[object, set[object]] = {}
        for owner, grantee in all_live(control):
            owners.setdefault(grantee, set()).add(owner)
        self._owners = {g: frozenset(o) for g, o in owners.items()}
        self._seq = seq
        self.reloads += 1

    def _catch_up(self, control: Connection) -> None:
        while changes := changes_after(control, self._seq, _CHANGES_AT_ONCE):
            grantees = {g for _seq, g in changes}
            if None in grantees:  # an erasure took the id out: read everything
                self._reload(control)
                return
            fresh: dict[object, set[object]] = {g: set() for g in grantees}
            for owner, grantee in live_to(control, grantees):
                fresh[grantee].add(owner)
            for grantee, owners in fresh.items():
                if owners:
                    self._owners[grantee] = frozenset(owners)
                else:
                    self._owners.pop(grantee, None)
            self._seq = changes[-1][0]
            if len(changes) < _CHANGES_AT_ONCE:
                return

    def live(self, pairs: set[tuple[object, object]]) -> set[tuple[object, object]]:
        owners = self._owners
        return {(o, g) for o, g in pairs if o in owners.get(g, ())}


def live_grants(grants: frozenset[tuple[object, object]] | GrantReader | GrantCache,
                pairs: set[tuple[object, object]]) -> set[tuple[object, object]]:
    """Which of `pairs` (owner, grantee) hold a live grant."""
    if isinstance(grants, frozenset):
        return pairs & grants
    return grants.live(pairs)


@dataclass(frozen=True)
class LiveState:
    """What the control store says right now, for the users being ranked. `grants`: every
    live (owner, grantee) pair, a reader that looks them up as needed, or the process's
    cache of them; `controls`: the
    users' own steering, mutes and "see fewer" (only those who have any)."""

    grants: frozenset[tuple[object, object]] | GrantReader | GrantCache
    blocks: dict[object, frozenset[object]]           # user -> creators they blocked
    policies: dict[object, UserPolicy]
    controls: dict[object, UserControls] = field(default_factory=dict)

    def policy(self, user_id: object) -> UserPolicy:
        return self.policies.get(user_id, UserPolicy(user_id))

    def controls_of(self, user_id: object) -> UserControls:
        return self.controls.get(user_id, NO_CONTROLS)


#: No grants, blocks, policies or controls: the engine's defaults (a warm-up, the static
#: feed of the session simulator).
NO_LIVE_STATE = LiveState(frozenset(), {}, {})
