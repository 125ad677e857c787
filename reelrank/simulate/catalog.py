"""The video catalog: who made each item, when, about what, how good, and whose likeness.

Items are sorted by creation time, so item ids grow with time and "items created before t"
is a prefix of the catalog — the logging policy relies on that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import (
    NEVER,
    US_PER_DAY,
    SegmentedSampler,
    categorical_rows,
    stage_rng,
    uniform_between,
)
from .config import WorldConfig
from .population import Population
from .social import Social

__all__ = ["SAFETY_LABELS", "Catalog", "draw_catalog"]

SAFETY_LABELS = ("safe", "sensitive", "unsafe")
_REMIX_SAME_TOPIC = 0.8


@dataclass(frozen=True)
class Catalog:
    """Per-item columns in creation order (item id = position + 1)."""

    creator: np.ndarray  # int64 user index
    created_us: np.ndarray  # int64, non-decreasing
    topic: np.ndarray  # int64 topic index
    quality: np.ndarray  # float32 latent quality (truth only)
    duration_s: np.ndarray  # float32
    safety: np.ndarray  # int64 index into SAFETY_LABELS
    remix_of: np.ndarray  # int64 item index, -1 if none
    cameo_offsets: np.ndarray  # int64 CSR offsets into cameo_users (size items + 1)
    cameo_users: np.ndarray  # int64 user indices: the creator first when present
    unservable_us: np.ndarray  # int64: when a cameo participant revoked; NEVER if never

    @property
    def size(self) -> int:
        return int(self.creator.shape[0])


def item_count(users: int, days: int, config: WorldConfig) -> int:
    """Backlog plus a steady daily flow, so the catalog is a few times daily activity."""
    return max(1, round(users * config.items_per_user + users * days * config.items_per_user_day))


def _creators(rng: np.random.Generator, people: Population, n: int, config: WorldConfig
              ) -> np.ndarray:
    """Prolific popular creators post most items; casual users post the rest."""
    weight = np.where(people.creator, np.sqrt(people.popularity) * people.activity, 0.0)
    if weight.sum() == 0:
        weight = people.activity.astype(np.float64)
    casual = np.where(people.creator, 0.0, people.activity)
    pro = SegmentedSampler.build(np.zeros(people.size), np.arange(people.size), weight)
    amateur = SegmentedSampler.build(np.zeros(people.size), np.arange(people.size), casual)
    use_pro = (rng.random(n) < config.creator_item_share) | (casual.sum() == 0)
    return np.where(use_pro, pro.draw(rng, np.zeros(n)), amateur.draw(rng, np.zeros(n)))


def _topics(rng: np.random.Generator, people: Population, creator: np.ndarray,
            config: WorldConfig) -> np.ndarray:
    """Mostly one of the creator's specialties; otherwise something the creator likes."""
    from_taste = categorical_rows(rng, people.interests, creator)
    has_specialty = people.specialties.any(axis=1)
    from_specialty = categorical_rows(rng, people.specialties.astype(np.float64) + 1e-12,
                                      creator)
    use_specialty = has_specialty[creator] & (rng.random(creator.size)
                                             < config.specialty_topic_share)
    return np.where(use_specialty, from_specialty, from_taste)


def _remixes(rng: np.random.Generator, created_us: np.ndarray, config: WorldConfig
             ) -> np.ndarray:
    """A few items remix a strictly earlier one."""
    n = created_us.size
    source = (rng.random(n) * np.arange(n)).astype(np.int64)
    wanted = (rng.random(n) < config.remix_share) & (np.arange(n) > 0)
    earlier = created_us[source] < created_us
    return np.where(wanted & earlier, source, -1)


def _friend_cameos(rng: np.random.Generator, social: Social, creator: np.ndarray,
                   created_us: np.ndarray, chosen: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-2 people with a live grant to the creator at creation time, for chosen items.

    Returns (item, user, revoked_us) rows. Only grants to the creator qualify, so consent
    holds by construction; the earliest revocation marks when the item must stop serving.
    """
    order = np.argsort(social.grant_grantee, kind="stable")
    grantee = social.grant_grantee[order]
    items = np.flatnonzero(chosen)
    lo = np.searchsorted(grantee, creator[items], side="left")
    hi = np.searchsorted(grantee, creator[items], side="right")
    count = hi - lo
    item_rows = np.repeat(items, count)
    grant_rows = order[np.repeat(lo - np.cumsum(count) + count, count)
                       + np.arange(count.sum())]
    t = created_us[item_rows]
    live = (social.granted_us[grant_rows] <= t) & (social.revoked_us[grant_rows] > t)
    item_rows, grant_rows = item_rows[live], grant_rows[live]
    key = rng.random(item_rows.size)
    by_item = np.lexsort((key, item_rows))
    item_rows, grant_rows = item_rows[by_item], grant_rows[by_item]
    rank = np.arange(item_rows.size) - np.searchsorted(item_rows, item_rows, side="left")
    wanted = rng.integers(1, 3, creator.size)[item_rows]
    keep = rank < wanted
    item_rows, grant_rows = item_rows[keep], grant_rows[keep]
    return item_rows, social.grant_owner[grant_rows], social.revoked_us[grant_rows]


def _cameos(rng: np.random.Generator, social: Social, creator: np.ndarray,
            created_us: np.ndarray, config: WorldConfig
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR lists of whose likeness each item shows, and when it stops being servable."""
    n = creator.size
    self_cameo = rng.random(n) < config.self_cameo_share
    f_item, f_user, f_revoked = _friend_cameos(
        rng, social, creator, created_us, rng.random(n) < config.friend_cameo_share)
    s_item = np.flatnonzero(self_cameo)
    item = np.concatenate([s_item, f_item])
    user = np.concatenate([creator[s_item], f_user])
    first = np.concatenate([np.zeros(s_item.size), np.ones(f_item.size)])
    order = np.lexsort((first, item))  # stable within an item: creator, then friends
    item, user = item[order], user[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(item, minlength=n))])
    unservable = np.full(n, NEVER, dtype=np.int64)
    np.minimum.at(unservable, f_item, f_revoked)
    return offsets.astype(np.int64), user.astype(np.int64), unservable


def draw_catalog(seed: int, people: Population, social: Social, start_us: int, end_us: int,
                 days: int, config: WorldConfig) -> Catalog:
    """Draw every item of the world, backlog included, sorted by creation time."""
    rng = stage_rng(seed, "items")
    n = item_count(people.size, days, config)
    creator = _creators(rng, people, n, config)
    window_start = start_us - config.backlog_days * US_PER_DAY
    lo = np.maximum(people.created_us[creator], window_start)
    created_us = uniform_between(rng, lo, end_us)
    order = np.lexsort((np.arange(n), created_us))
    creator, created_us = creator[order], created_us[order]
    topic = _topics(rng, people, creator, config)
    skill = rng.normal(0.0, 0.5, people.size)
    quality = (skill[creator] + rng.normal(0.0, 0.8, n)).astype(np.float32)
    duration = np.clip(rng.lognormal(np.log(18.0), 0.6, n), 3.0, 60.0)
    remix_of = _remixes(rng, created_us, config)
    same = (remix_of >= 0) & (rng.random(n) < _REMIX_SAME_TOPIC)
    topic = np.where(same, topic[np.maximum(remix_of, 0)], topic)
    offsets, users, unservable = _cameos(rng, social, creator, created_us, config)
    return Catalog(
        creator=creator, created_us=created_us, topic=topic.astype(np.int64), quality=quality,
        duration_s=np.round(duration, 1).astype(np.float32),
        safety=rng.choice(3, size=n, p=config.safety_probs).astype(np.int64),
        remix_of=remix_of, cameo_offsets=offsets, cameo_users=users, unservable_us=unservable,
    )
