"""Every knob of the synthetic world, typed and bounded, in one place.

The defaults describe a believable small social app; tests and benchmarks change the size
(users, days) through `simulate` and rarely need anything here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["WorldConfig"]


@dataclass(frozen=True)
class WorldConfig:
    """Shape of the population, social graph, catalog and logging policy."""

    # Population.
    creator_share: float = 0.10
    minor_share: float = 0.08
    supervised_share: float = 0.80
    joined_during_world_share: float = 0.08
    account_history_days: int = 730
    interest_alpha: float = 0.10  # Dirichlet concentration per topic: small = sparse tastes
    country_topic_boost: float = 3.0  # how much a country's favourite topics are preferred
    activity_sigma: float = 0.9  # lognormal spread of daily activity (heavy tail)
    creator_pareto_shape: float = 1.1  # power-law creator popularity

    # Parental controls (drawn by guardians).
    guardian_personalization_off: float = 0.30
    scroll_limit_probs: tuple[float, float, float, float] = (0.40, 0.20, 0.25, 0.15)
    dm_policy_probs: tuple[float, float, float] = (0.20, 0.50, 0.30)

    # Chat-history personalisation (opt-in) and chat snippets.
    chat_opt_in: float = 0.42
    supervised_chat_opt_in: float = 0.05
    chats_min: int = 3
    chats_max: int = 10

    # Social graph.
    friends_mean: float = 8.0
    friends_same_country: float = 0.85
    follows_min: int = 5
    follows_max: int = 30
    follows_by_popularity: float = 0.25  # the rest are matched to the follower's interests
    granters_share: float = 0.55  # users who grant their likeness to anyone
    grant_per_friend: float = 0.45
    grant_revoked: float = 0.15

    # Catalog.
    items_per_user: float = 0.30
    items_per_user_day: float = 0.02
    backlog_days: int = 14
    creator_item_share: float = 0.80  # the rest are casual posts by non-creators
    specialty_topic_share: float = 0.85
    safety_probs: tuple[float, float, float] = (0.93, 0.06, 0.01)
    remix_share: float = 0.05
    self_cameo_share: float = 0.25
    friend_cameo_share: float = 0.12  # tried; ~1 in 6 creators holds no live grant, so ~10%

    # Daily rhythm: P(active on a day) = 1 - exp(-return_rate * activity); one session a day
    # around a local evening peak.
    return_rate: float = 0.6
    peak_local_hour: float = 20.0
    hour_spread: float = 3.5

    # Logging policy (what the app that wrote the log showed). Sources, in `source_mix`
    # order: regional trending, followed creators, friends, topical (a noisy view of the
    # user's tastes, as an older ranker would have), random recent.
    session_mean: float = 11.0
    session_max: int = 200
    travel_ip_share: float = 0.03
    mobile_ip_share: float = 0.30
    recent_days: int = 7
    source_mix: tuple[float, float, float, float, float] = (0.35, 0.20, 0.10, 0.20, 0.15)
    oversample: float = 2.5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                if any(v < 0 for v in value) or abs(sum(value) - 1.0) > 1e-9:
                    raise ValueError(f"{f.name} must be probabilities summing to 1, got {value}")
            elif f.name in _PROBABILITIES and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be in [0, 1], got {value}")
            elif value < 0:
                raise ValueError(f"{f.name} must be non-negative, got {value}")
        if self.chats_min > self.chats_max or self.follows_min > self.follows_max:
            raise ValueError("a minimum exceeds its maximum")
        if self.oversample < 1.0 or self.session_max < 1:
            raise ValueError("oversample must be >= 1 and session_max >= 1")


_PROBABILITIES = frozenset({
    "creator_share", "minor_share", "supervised_share", "joined_during_world_share",
    "guardian_personalization_off", "chat_opt_in", "supervised_chat_opt_in",
    "friends_same_country", "follows_by_popularity", "granters_share", "grant_per_friend",
    "grant_revoked", "creator_item_share", "specialty_topic_share", "remix_share",
    "self_cameo_share", "friend_cameo_share", "travel_ip_share", "mobile_ip_share",
})
