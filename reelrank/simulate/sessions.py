"""Who opens the app on a given day, when, for how many videos, and from which IP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import NEVER, US_PER_S, stage_rng
from .config import WorldConfig
from .geo import COUNTRIES, draw_ips
from .population import ADULT_AGE, Guardians, Population

__all__ = ["Audience", "Sessions", "build_audience", "draw_sessions", "session_sizes"]

_SESSION_SHAPE = 2.0  # gamma-Poisson session lengths: heavy-tailed, mean set per user
_ACTIVITY_EXPONENT = 0.6
_ACTIVITY_SCALE = 1.2
_SECONDS_PER_IMPRESSION = 15


@dataclass(frozen=True)
class Audience:
    """Per-user parental controls the logging app enforced, from the moment of linking."""

    scroll_limit: np.ndarray  # int64, 0 = none
    personalization: np.ndarray  # bool: the guardian's choice (True when unsupervised)
    minor: np.ndarray  # bool
    linked_us: np.ndarray  # int64: when a guardian linked; NEVER when unsupervised

    def supervised(self, user: np.ndarray, at_us: np.ndarray) -> np.ndarray:
        return self.linked_us[user] <= at_us

    def personalized(self, user: np.ndarray, at_us: np.ndarray) -> np.ndarray:
        return self.personalization[user] | ~self.supervised(user, at_us)

    def max_safety(self, user: np.ndarray, at_us: np.ndarray) -> np.ndarray:
        """2 for adults (anything), 1 for minors (no unsafe), 0 when supervised (safe only)."""
        return np.where(self.supervised(user, at_us), 0, np.where(self.minor[user], 1, 2))

    def limit(self, user: np.ndarray, at_us: np.ndarray) -> np.ndarray:
        return np.where(self.supervised(user, at_us), self.scroll_limit[user], 0)


@dataclass(frozen=True)
class Sessions:
    """One row per active user on the day, ordered by user."""

    user: np.ndarray  # int64
    start_us: np.ndarray  # int64
    size: np.ndarray  # int64 impressions wanted
    ip: np.ndarray  # int64 IPv4 address

    @property
    def count(self) -> int:
        return int(self.user.shape[0])


def build_audience(people: Population, guardians: Guardians, start_year: int) -> Audience:
    """What the logging app knew about each user's age and parental controls."""
    scroll_limit = np.zeros(people.size, dtype=np.int64)
    scroll_limit[guardians.child] = guardians.scroll_limit
    personalization = np.ones(people.size, dtype=bool)
    personalization[guardians.child] = guardians.personalization
    linked_us = np.full(people.size, NEVER, dtype=np.int64)
    linked_us[guardians.child] = guardians.linked_us
    minor = (start_year - people.birth_year.astype(np.int64)) < ADULT_AGE
    return Audience(scroll_limit=scroll_limit, personalization=personalization, minor=minor,
                    linked_us=linked_us)


def _session_ips(rng: np.random.Generator, people: Population, user: np.ndarray,
                 config: WorldConfig) -> np.ndarray:
    """Home broadband mostly, a mobile address in the home country, a few abroad."""
    country = people.country[user]
    roll = rng.random(user.size)
    abroad = (country + rng.integers(1, len(COUNTRIES), user.size)) % len(COUNTRIES)
    mobile = draw_ips(rng, country)
    travel = draw_ips(rng, abroad)
    return np.where(roll < config.travel_ip_share, travel,
                    np.where(roll < config.travel_ip_share + config.mobile_ip_share, mobile,
                             people.home_ip[user]))


def session_sizes(rng: np.random.Generator, activity: np.ndarray, config: WorldConfig
                  ) -> np.ndarray:
    """Impressions each session wants (before any scroll limit), from each user's activity:
    gamma-Poisson, heavy-tailed, the mean growing with activity, capped at `session_max`.
    The log generator and the session simulator (`cli/sessions`) both draw them here."""
    mean = 1 + (config.session_mean - 1) * activity ** _ACTIVITY_EXPONENT / _ACTIVITY_SCALE
    size = 1 + rng.poisson(rng.gamma(_SESSION_SHAPE, (mean - 1) / _SESSION_SHAPE))
    return np.minimum(size, config.session_max)


def draw_sessions(seed: int, day: int, day_start_us: int, people: Population,
                  audience: Audience, config: WorldConfig) -> Sessions:
    """Active users of one day with a session start around their local evening."""
    rng = stage_rng(seed, "events", day, 0)
    day_end_us = day_start_us + 86_400 * US_PER_S
    activity = people.activity.astype(np.float64)
    exists = people.created_us < day_end_us - 300 * US_PER_S
    active = exists & (rng.random(people.size) < 1 - np.exp(-config.return_rate * activity))
    user = np.flatnonzero(active)
    size = session_sizes(rng, activity[user], config)
    offset_h = np.array([c.utc_offset_h for c in COUNTRIES])[people.country[user]]
    local_h = rng.normal(config.peak_local_hour, config.hour_spread, user.size)
    utc_s = ((local_h - offset_h) % 24.0) * 3600.0
    start = day_start_us + (utc_s * US_PER_S).astype(np.int64)
    # Late sessions start early enough to finish within the day; the log is written per day.
    latest = day_end_us - (size * _SECONDS_PER_IMPRESSION + 60) * US_PER_S
    start = np.maximum(np.minimum(start, latest), day_start_us)
    start = np.maximum(start, people.created_us[user] + 60 * US_PER_S)
    limit = audience.limit(user, start)
    size = np.where(limit > 0, np.minimum(size, limit), size)
    return Sessions(user=user, start_us=start, size=size.astype(np.int64),
                    ip=_session_ips(rng, people, user, config))
