"""The live state a ranking runs under: each user's policy (what the control store says
right now about their personalization, chat setting, supervision and scroll limit), their
blocks, their own controls (steering, mutes, "see fewer") and the live cameo grants. Built by `ranking.policy.read_live`; read by the filters
and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from ranking.controls import NO_CONTROLS, UserControls
from reelrank.control.connection import Connection
from reelrank.control.grants import live_to

__all__ = ["NO_LIVE_STATE", "GrantReader", "LiveState", "UserPolicy", "live_grants"]


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


def live_grants(grants: frozenset[tuple[object, object]] | GrantReader,
                pairs: set[tuple[object, object]]) -> set[tuple[object, object]]:
    """Which of `pairs` (owner, grantee) hold a live grant."""
    if isinstance(grants, GrantReader):
        return grants.live(pairs)
    return pairs & grants


@dataclass(frozen=True)
class LiveState:
    """What the control store says right now, for the users being ranked. `grants`: every
    live (owner, grantee) pair, or a reader that looks them up as needed; `controls`: the
    users' own steering, mutes and "see fewer" (only those who have any)."""

    grants: frozenset[tuple[object, object]] | GrantReader
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
