"""The social graph at the world's start: friendships, follows of creators, cameo grants.

Edges are drawn as stub lists and deduplicated, so no per-user Python loop is needed.
Every edge's time is after both endpoints signed up and before the world ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import (
    NEVER,
    US_PER_S,
    SegmentedSampler,
    categorical_rows,
    pick_in_group,
    stage_rng,
    uniform_between,
)
from .config import WorldConfig
from .population import ADULT_AGE, Population

__all__ = ["Social", "draw_social", "unique_pairs"]

_MINOR_PEER_SHARE = 0.7  # minors mostly befriend minors
_ADULT_MINOR_SHARE = 0.03
_FAN_GRANT_SHARE = 0.02  # a few people grant a creator they follow


@dataclass(frozen=True)
class Social:
    """Edges as parallel index arrays plus their timestamps (microseconds)."""

    friend_a: np.ndarray  # int64, friend_a < friend_b
    friend_b: np.ndarray
    friend_us: np.ndarray
    follower: np.ndarray
    followee: np.ndarray
    follow_us: np.ndarray
    grant_owner: np.ndarray
    grant_grantee: np.ndarray
    granted_us: np.ndarray
    revoked_us: np.ndarray  # NEVER when still granted


def unique_pairs(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Positions of the first occurrence of each (a, b) pair, in pair order."""
    _, first = np.unique(a.astype(np.int64) * n + b, return_index=True)
    return first


def _friendships(rng: np.random.Generator, people: Population, start_year: int, end_us: int,
                 config: WorldConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region- and age-homophilous friendships, each pair stored once with a < b."""
    n = people.size
    minor = (start_year - people.birth_year.astype(np.int64)) < ADULT_AGE
    group = people.country * 2 + minor
    sociability = rng.lognormal(-0.125, 0.5, n)
    stubs = rng.poisson(config.friends_mean / 2 * sociability)
    src = np.repeat(np.arange(n, dtype=np.int64), stubs)
    local = rng.random(src.size) < config.friends_same_country
    want_minor = np.where(minor[src], rng.random(src.size) < _MINOR_PEER_SHARE,
                          rng.random(src.size) < _ADULT_MINOR_SHARE)
    peer = pick_in_group(rng, group, people.country[src] * 2 + want_minor)
    anyone = rng.integers(0, n, src.size)
    dst = np.where(local & (peer >= 0), peer, anyone)
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    keep = a != b
    a, b = a[keep], b[keep]
    first = np.sort(unique_pairs(a, b, n))
    a, b = a[first], b[first]
    since = np.maximum(people.created_us[a], people.created_us[b])
    return a, b, uniform_between(rng, since, end_us, skew=2.5)


def _follows(rng: np.random.Generator, people: Population, end_us: int, config: WorldConfig
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users follow creators: mostly creators of topics they like, some just popular ones."""
    n = people.size
    creators = np.flatnonzero(people.creator)
    if creators.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    want = np.exp(rng.normal(np.log(12.0), 0.6, n))
    count = np.clip(np.round(want), config.follows_min, config.follows_max).astype(np.int64)
    follower = np.repeat(np.arange(n, dtype=np.int64), count)
    topic = categorical_rows(rng, people.interests, follower)
    spec_user, spec_topic = np.nonzero(people.specialties)
    by_topic = SegmentedSampler.build(spec_topic, spec_user, people.popularity[spec_user])
    by_popularity = SegmentedSampler.build(np.zeros(creators.size), creators,
                                           people.popularity[creators])
    matched = by_topic.draw(rng, topic)
    popular = by_popularity.draw(rng, np.zeros(follower.size))
    use_popular = (rng.random(follower.size) < config.follows_by_popularity) | (matched < 0)
    followee = np.where(use_popular, popular, matched)
    keep = followee != follower
    follower, followee = follower[keep], followee[keep]
    first = np.sort(unique_pairs(follower, followee, n))
    follower, followee = follower[first], followee[first]
    since = np.maximum(people.created_us[follower], people.created_us[followee])
    return follower, followee, uniform_between(rng, since, end_us, skew=2.0)


def _grants(rng: np.random.Generator, people: Population, friends: tuple[np.ndarray, ...],
            follows: tuple[np.ndarray, ...], end_us: int, config: WorldConfig
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cameo grants, mostly from a user to friends, some to followed creators; some revoked."""
    granter = rng.random(people.size) < config.granters_share
    fa, fb, f_us = friends
    owner = np.concatenate([fa, fb, follows[0]])
    grantee = np.concatenate([fb, fa, follows[1]])
    since = np.concatenate([f_us, f_us, follows[2]])
    share = np.concatenate([np.full(fa.size * 2, config.grant_per_friend),
                            np.full(follows[0].size, _FAN_GRANT_SHARE)])
    keep = granter[owner] & (rng.random(owner.size) < share)
    owner, grantee, since = owner[keep], grantee[keep], since[keep]
    first = np.sort(unique_pairs(owner, grantee, people.size))
    owner, grantee, since = owner[first], grantee[first], since[first]
    granted = uniform_between(rng, since, end_us, skew=2.0)
    room = (end_us - granted) > 60 * US_PER_S
    revoke = room & (rng.random(owner.size) < config.grant_revoked)
    revoked_at = uniform_between(rng, granted + US_PER_S, end_us)
    return owner, grantee, granted, np.where(revoke, revoked_at, NEVER)


def draw_social(seed: int, people: Population, start_year: int, end_us: int,
                config: WorldConfig) -> Social:
    """Draw the whole starting graph."""
    friends = _friendships(stage_rng(seed, "friends"), people, start_year, end_us, config)
    follows = _follows(stage_rng(seed, "follows"), people, end_us, config)
    grants = _grants(stage_rng(seed, "grants"), people, friends, follows, end_us, config)
    return Social(*friends, *follows, *grants)
