"""Users: home country, age, signup time, latent tastes, activity; creators; guardians.

Everything is drawn as whole numpy columns. Latent quantities (interests, activity, creator
popularity) never reach the app-facing tables; they are written only to `truth/`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import US_PER_DAY, US_PER_S, pick_in_group, stage_rng, uniform_between
from .config import WorldConfig
from .geo import COUNTRIES, country_weights, draw_ips
from .vocab import TOPIC_NAMES

__all__ = [
    "DM_POLICIES",
    "SCROLL_LIMITS",
    "Guardians",
    "Population",
    "draw_guardians",
    "draw_population",
]

#: 0 stands for "no limit" (null in the output).
SCROLL_LIMITS = np.array([0, 60, 100, 200], dtype=np.int32)
DM_POLICIES = ("everyone", "friends", "nobody")
ADULT_AGE = 18

# Topics that are broadly popular everywhere get a larger share of everyone's attention.
_GLOBAL_TOPIC_WEIGHT = {"comedy": 1.8, "music": 1.6, "dance": 1.5, "cats": 1.4, "pets": 1.4,
                        "gaming": 1.4, "cooking": 1.3, "football": 1.2, "finance": 0.7,
                        "history": 0.7, "gardening": 0.7, "science": 0.8}


@dataclass(frozen=True)
class Population:
    """Per-user columns, indexed by user position (user id = position + 1)."""

    country: np.ndarray  # int64 index into COUNTRIES
    birth_year: np.ndarray  # int16
    created_us: np.ndarray  # int64
    interests: np.ndarray  # float32 (users, topics), rows sum to 1
    activity: np.ndarray  # float32, mean about 1.5, heavy right tail
    creator: np.ndarray  # bool
    popularity: np.ndarray  # float32, 0 for non-creators
    specialties: np.ndarray  # bool (users, topics), empty rows for non-creators
    home_ip: np.ndarray  # int64 IPv4 address

    @property
    def size(self) -> int:
        return int(self.country.shape[0])


@dataclass(frozen=True)
class Guardians:
    """Supervised minors and the settings their guardian chose."""

    child: np.ndarray  # int64 user index
    guardian: np.ndarray  # int64 user index (an adult)
    personalization: np.ndarray  # bool
    scroll_limit: np.ndarray  # int32, 0 = no limit
    dm_policy: np.ndarray  # int64 index into DM_POLICIES
    linked_us: np.ndarray  # int64


def _interest_alpha(country: np.ndarray, config: WorldConfig) -> np.ndarray:
    """Dirichlet concentration per (user, topic): global topic appeal x country taste."""
    base = np.array([_GLOBAL_TOPIC_WEIGHT.get(t, 1.0) for t in TOPIC_NAMES])
    boost = np.ones((len(COUNTRIES), len(TOPIC_NAMES)))
    for c, entry in enumerate(COUNTRIES):
        for name in entry.favourites:
            boost[c, TOPIC_NAMES.index(name)] = config.country_topic_boost
    return config.interest_alpha * base[None, :] * boost[country]


def _ages(rng: np.random.Generator, n: int, config: WorldConfig) -> np.ndarray:
    """Ages at the world's start: a minority of 13-17s, adults skewed young, capped at 70."""
    minor = rng.random(n) < config.minor_share
    adult_age = np.minimum(ADULT_AGE + rng.gamma(2.0, 9.0, n).astype(np.int64), 70)
    return np.where(minor, rng.integers(13, ADULT_AGE, n), adult_age)


def _specialties(rng: np.random.Generator, interests: np.ndarray, creator: np.ndarray
                 ) -> np.ndarray:
    """1-3 specialty topics per creator, drawn without replacement from their own tastes.

    Gumbel-top-k: adding Gumbel noise to log-weights and keeping the k largest samples
    without replacement in proportion to the weights.
    """
    rows = np.flatnonzero(creator)
    keys = np.log(interests[rows].astype(np.float64) + 1e-12)
    keys += rng.gumbel(size=keys.shape)
    k = rng.integers(1, 4, rows.size)
    kth = -np.sort(-keys, axis=1)[np.arange(rows.size), k - 1]
    specialties = np.zeros(interests.shape, dtype=bool)
    specialties[rows] = keys >= kth[:, None]
    return specialties


def draw_population(seed: int, users: int, start_us: int, end_us: int, start_year: int,
                    config: WorldConfig) -> Population:
    """Draw every user's visible profile and hidden tastes."""
    rng = stage_rng(seed, "users")
    country = rng.choice(len(COUNTRIES), size=users, p=country_weights()).astype(np.int64)
    birth_year = (start_year - _ages(rng, users, config)).astype(np.int16)
    joined_late = rng.random(users) < config.joined_during_world_share
    before = start_us - (rng.random(users) * config.account_history_days * US_PER_DAY)
    during = uniform_between(rng, np.full(users, start_us), end_us - 3600 * US_PER_S)
    created_us = np.where(joined_late, during, before.astype(np.int64))
    raw = rng.gamma(_interest_alpha(country, config)) + 1e-4
    interests = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
    activity = rng.lognormal(0.0, config.activity_sigma, users).astype(np.float32)
    creator = rng.random(users) < config.creator_share
    pareto = np.minimum(rng.pareto(config.creator_pareto_shape, users) + 1.0, 1_000.0)
    popularity = np.where(creator, pareto, 0.0).astype(np.float32)
    return Population(
        country=country, birth_year=birth_year, created_us=created_us, interests=interests,
        activity=activity, creator=creator, popularity=popularity,
        specialties=_specialties(rng, interests, creator), home_ip=draw_ips(rng, country),
    )


def draw_guardians(seed: int, people: Population, start_year: int, start_us: int,
                   config: WorldConfig) -> Guardians:
    """Link most minors to an adult guardian from their country, with drawn settings."""
    rng = stage_rng(seed, "guardians")
    age = start_year - people.birth_year.astype(np.int64)
    adults = np.flatnonzero(age >= 25)
    if adults.size == 0:
        adults = np.flatnonzero(age >= ADULT_AGE)
    minors = np.flatnonzero(age < ADULT_AGE)
    child = minors[rng.random(minors.size) < config.supervised_share]
    if adults.size == 0 or child.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Guardians(empty, empty, np.zeros(0, bool), np.zeros(0, np.int32), empty, empty)
    local = pick_in_group(rng, people.country[adults], people.country[child])
    anywhere = rng.integers(0, adults.size, child.size)
    guardian = adults[np.where(local >= 0, local, anywhere)]
    # Existing accounts were linked before the world starts; pairs that sign up during it
    # link within the hour after both exist.
    linked_from = np.maximum(people.created_us[child], people.created_us[guardian])
    linked_by = np.where(linked_from < start_us, start_us, linked_from + 3600 * US_PER_S)
    return Guardians(
        child=child,
        guardian=guardian,
        personalization=rng.random(child.size) >= config.guardian_personalization_off,
        scroll_limit=SCROLL_LIMITS[rng.choice(4, size=child.size, p=config.scroll_limit_probs)],
        dm_policy=rng.choice(3, size=child.size, p=config.dm_policy_probs).astype(np.int64),
        linked_us=uniform_between(rng, linked_from, linked_by, skew=3.0),
    )
