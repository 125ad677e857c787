"""The logging policy: which items the app that wrote the log put in each session.

It mixes regional trending, followed creators, friends, a noisy view of the user's tastes
and random recent items, so the log is not simply the oracle's choices. It also obeyed the
app's rules at the time: nothing before it was created, nothing shown twice to a user, no
own videos, safety gates for minors, and no cameo video after a participant revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import US_PER_DAY, draw_rows, group_pick, row_cdf
from .catalog import Catalog
from .config import WorldConfig
from .population import Population
from .sessions import Audience, Sessions
from .social import Social

__all__ = ["CatalogIndex", "build_index", "choose_items", "contains"]

_TASTE_KNOWN = 0.5  # how much of a user's true taste the old ranker had learned
_FOLLOWED_RECENCY = 2.0
_TOPICAL_RECENCY = 1.5
TRENDING, FOLLOWED, FRIENDS, TOPICAL, RANDOM = range(5)


@dataclass(frozen=True)
class CatalogIndex:
    """Sorted keys for "a creator's items", "a topic's items" and "a user's friends"."""

    n_items: int
    n_users: int
    creator_key: np.ndarray  # sorted creator * n_items + item
    topic_key: np.ndarray  # sorted topic * n_items + item
    friend_key: np.ndarray  # sorted user * n_users + friend (both directions)
    taste_cdf: np.ndarray  # row_cdf of the old ranker's view of each user's tastes
    n_topics: int
    prior: np.ndarray  # float64 trending weight of an item before any engagement


def build_index(people: Population, social: Social, catalog: Catalog) -> CatalogIndex:
    """Build the lookup keys once per world."""
    n, u = catalog.size, people.size
    items = np.arange(n, dtype=np.int64)
    n_topics = people.interests.shape[1]
    taste = _TASTE_KNOWN * people.interests + (1 - _TASTE_KNOWN) / n_topics
    return CatalogIndex(
        n_items=n, n_users=u,
        creator_key=np.sort(catalog.creator * n + items),
        topic_key=np.sort(catalog.topic * n + items),
        friend_key=np.sort(np.concatenate([social.friend_a * u + social.friend_b,
                                           social.friend_b * u + social.friend_a])),
        taste_cdf=row_cdf(taste), n_topics=n_topics,
        prior=0.5 + np.log1p(people.popularity[catalog.creator].astype(np.float64)),
    )


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of each key in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape[0], dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[pos] == keys


def _neighbour(rng: np.random.Generator, keys: np.ndarray, user: np.ndarray, n_users: int
               ) -> np.ndarray:
    """A random followee / friend of each user (-1 if none), from `user * n + other` keys."""
    lo = np.searchsorted(keys, user * n_users)
    hi = np.searchsorted(keys, (user + 1) * n_users)
    pos = group_pick(rng, lo, hi - lo)
    return np.where(pos >= 0, keys[np.maximum(pos, 0)] % n_users if keys.size else -1, -1)


def _in_group(rng: np.random.Generator, keys: np.ndarray, group: np.ndarray, n_items: int,
              lo_item: int, hi_item: int, skew: float) -> np.ndarray:
    """A recent-biased item of each group (creator or topic) within [lo_item, hi_item)."""
    base = np.maximum(group, 0) * n_items
    lo = np.searchsorted(keys, base + lo_item)
    hi = np.searchsorted(keys, base + hi_item)
    pos = group_pick(rng, lo, np.where(group >= 0, hi - lo, 0), skew)
    return np.where(pos >= 0, keys[np.maximum(pos, 0)] % n_items if keys.size else -1, -1)


def _draw_sources(rng: np.random.Generator, user: np.ndarray, source: np.ndarray,
                  people: Population, index: CatalogIndex, follow_keys: np.ndarray,
                  trend: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """One candidate item per slot from the slot's source (-1 where the source is empty)."""
    item = np.full(user.size, -1, dtype=np.int64)
    n = index.n_items
    pick = source == TRENDING
    weights = trend[:, lo:hi] + index.prior[None, lo:hi]
    item[pick] = lo + draw_rows(rng, row_cdf(weights), hi - lo, people.country[user[pick]])
    pick = source == FOLLOWED
    creator = _neighbour(rng, follow_keys, user[pick], index.n_users)
    item[pick] = _in_group(rng, index.creator_key, creator, n, 0, hi, _FOLLOWED_RECENCY)
    pick = source == FRIENDS
    friend = _neighbour(rng, index.friend_key, user[pick], index.n_users)
    item[pick] = _in_group(rng, index.creator_key, friend, n, 0, hi, _FOLLOWED_RECENCY)
    pick = source == TOPICAL
    topic = draw_rows(rng, index.taste_cdf, index.n_topics, user[pick])
    item[pick] = _in_group(rng, index.topic_key, topic, n, lo, hi, _TOPICAL_RECENCY)
    pick = source == RANDOM
    item[pick] = lo + (rng.random(int(pick.sum())) * (hi - lo)).astype(np.int64)
    return item


def _admissible(item: np.ndarray, user: np.ndarray, start_us: np.ndarray, catalog: Catalog,
                audience: Audience) -> np.ndarray:
    """The app's serving rules at the time: existing, not own, safety gate, consent live."""
    probe = np.maximum(item, 0)
    return ((item >= 0) & (catalog.created_us[probe] < start_us)
            & (catalog.creator[probe] != user)
            & (catalog.safety[probe] <= audience.max_safety(user, start_us))
            & (catalog.unservable_us[probe] > start_us))


def choose_items(rng: np.random.Generator, sessions: Sessions, people: Population,
                 audience: Audience, catalog: Catalog, index: CatalogIndex,
                 follow_keys: np.ndarray, seen_keys: np.ndarray, trend: np.ndarray,
                 day_start_us: int, config: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """(session row, item) per impression, grouped by session in display order.

    Each session draws more candidate slots than it shows (`oversample`), because sources
    come back empty and rules remove some; the first admissible, unseen ones are shown.
    """
    hi = int(np.searchsorted(catalog.created_us, day_start_us + US_PER_DAY))
    lo = int(np.searchsorted(catalog.created_us, day_start_us - config.recent_days * US_PER_DAY))
    lo = min(lo, hi - 1)
    if hi == 0 or sessions.count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    slots = np.ceil(sessions.size * config.oversample).astype(np.int64) + 3
    sess = np.repeat(np.arange(sessions.count, dtype=np.int64), slots)
    user = sessions.user[sess]
    source = rng.choice(5, size=sess.size, p=config.source_mix)
    # With personalization off (a guardian's choice) only non-personal sources remain.
    fallback = np.where(rng.random(sess.size) < 0.5, TRENDING, RANDOM)
    start_us = sessions.start_us[sess]
    personal = audience.personalized(user, start_us)
    source = np.where(personal | np.isin(source, (TRENDING, RANDOM)), source, fallback)
    item = _draw_sources(rng, user, source, people, index, follow_keys, trend, lo, hi)
    key = user * index.n_items + item
    first = np.zeros(sess.size, dtype=bool)
    first[np.unique(key, return_index=True)[1]] = True
    admissible = _admissible(item, user, start_us, catalog, audience)
    keep = np.flatnonzero(admissible & first & ~contains(seen_keys, key))
    kept_sess = sess[keep]
    rank = np.arange(keep.size) - np.searchsorted(kept_sess, kept_sess, side="left")
    shown = keep[rank < sessions.size[kept_sess]]
    return sess[shown], item[shown]
