"""One world day of the engagement log: sessions, impressions, what people did, and state.

Each day is generated from its own seed and from the state the previous day left (who has
seen what, who follows whom, what is trending), so a day's output depends only on the seed
and the days before it. The state is never modified in place; each day returns a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ._common import US_PER_DAY, US_PER_S, stage_rng, ts_series
from .catalog import Catalog
from .config import WorldConfig
from .geo import COUNTRIES, ip_strings
from .policy import CatalogIndex, choose_items, contains
from .population import Population
from .sessions import Audience, Sessions, draw_sessions
from .truth import TruthModel, sigmoid, utility

__all__ = ["EVENT_TYPES", "DayLog", "LogState", "LogWorld", "draw_outcomes", "initial_state",
           "simulate_day"]

EVENT_TYPES = ("impression", "skip", "complete", "like", "comment", "share", "remix",
               "follow", "not_interested", "report")
(IMPRESSION, SKIP, COMPLETE, LIKE, COMMENT, SHARE, REMIX, FOLLOW, NOT_INTERESTED,
 REPORT) = range(len(EVENT_TYPES))
# How much each event type lifts an item's regional trending score; yesterday's score decays.
_TREND_WEIGHT = np.array([0.02, 0.0, 0.3, 1.0, 1.0, 2.0, 2.0, 0.5, 0.0, 0.0])
_TREND_DECAY = 0.6
_EVENT_ID_WIDTH = 12


@dataclass(frozen=True)
class LogWorld:
    """Everything a day needs that does not change from day to day."""

    seed: int
    people: Population
    audience: Audience
    catalog: Catalog
    index: CatalogIndex
    model: TruthModel
    config: WorldConfig
    planned_follow_key: np.ndarray  # follows from the initial graph, sorted by time
    planned_follow_us: np.ndarray
    user_ids: pl.Series
    item_ids: pl.Series


@dataclass(frozen=True)
class LogState:
    """What carries over between days."""

    seen_keys: np.ndarray  # sorted user * n_items + item already impressed
    follow_keys: np.ndarray  # sorted follower * n_users + followee, as of the day's start
    trend: np.ndarray  # (countries, items) engagement score
    next_event: int


@dataclass(frozen=True)
class DayLog:
    """One day's events plus the follows they created, and the state for the next day."""

    events: pl.DataFrame
    follower: np.ndarray
    followee: np.ndarray
    follow_us: np.ndarray
    state: LogState


def initial_state(world: LogWorld, start_us: int) -> LogState:
    """Nothing seen, the follows made before the start, nothing trending."""
    before = world.planned_follow_us < start_us
    return LogState(
        seen_keys=np.zeros(0, dtype=np.int64),
        follow_keys=np.unique(world.planned_follow_key[before]),
        trend=np.zeros((len(COUNTRIES), world.catalog.size), dtype=np.float64),
        next_event=0,
    )


def draw_outcomes(rng: np.random.Generator, model: TruthModel, *, interest: np.ndarray,
                  quality: np.ndarray, follows: np.ndarray, same_country: np.ndarray,
                  duration_s: np.ndarray, safety: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Watched microseconds and a (types x impressions) action matrix, in `EVENT_TYPES` row
    order, drawn from the truth model for impressions with these inputs: the user's interest
    in the item's topic, its quality, whether the user follows its creator, whether they
    share a home country, its duration and its safety label index. The log generator and the
    session simulator (`cli/sessions`) both draw what people do from here."""
    u = utility(model, interest, quality, follows, same_country)
    n = u.size
    z = u + rng.logistic(0.0, model.noise_scale, n)
    fraction = sigmoid(model.watch_slope * z)
    watch_s = fraction * duration_s.astype(np.float64)
    skip = watch_s < model.skip_watch_s
    engaged = ~skip

    def fires(p: np.ndarray) -> np.ndarray:
        return rng.random(n) < p

    report_rate = np.asarray(model.report_rate)[safety]
    acts = np.stack([  # rows in EVENT_TYPES order
        np.ones(n, dtype=bool), skip, fraction >= model.complete_fraction,
        engaged & fires(model.like.prob(z)), engaged & fires(model.comment.prob(z)),
        engaged & fires(model.share.prob(z)), engaged & fires(model.remix.prob(z)),
        engaged & ~follows & fires(model.follow.prob(z)),
        fires(model.not_interested.prob_below(z)),
        fires(report_rate * 2 * sigmoid(-z)),
    ])
    watch_us = np.floor(watch_s * 1000).astype(np.int64) * 1000
    return watch_us, acts


def _outcomes(rng: np.random.Generator, world: LogWorld, user: np.ndarray, item: np.ndarray,
              follow_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`draw_outcomes` for (user, item) impressions of the world's own people and catalog."""
    people, cat = world.people, world.catalog
    creator = cat.creator[item]
    return draw_outcomes(
        rng, world.model, interest=people.interests[user, cat.topic[item]],
        quality=cat.quality[item], follows=contains(follow_keys, user * people.size + creator),
        same_country=people.country[user] == people.country[creator],
        duration_s=cat.duration_s[item], safety=cat.safety[item])


def _timeline(rng: np.random.Generator, sessions: Sessions, sess: np.ndarray,
              watch_us: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """(types x impressions) times: impressions back to back within a session, each action
    during the watch (like, follow), as it ends (skip, complete) or in the pause after."""
    gap_s = (0.3 + rng.exponential(1.0, sess.size) + 8.0 * acts[COMMENT] + 2.0 * acts[SHARE]
             + 4.0 * acts[REMIX] + 1.0 * acts[REPORT])
    gap_us = (gap_s * US_PER_S).astype(np.int64)
    step = watch_us + gap_us
    before = np.cumsum(step) - step
    first = np.searchsorted(sess, sess, side="left")
    imp_ts = sessions.start_us[sess] + before - before[first]
    during = 1 + (rng.random(sess.size) * watch_us).astype(np.int64)
    after = watch_us + 1 + (rng.random(sess.size) * gap_us).astype(np.int64)
    ended = watch_us + 1  # a skip or completion is logged as the video is left
    offset = np.stack([np.zeros_like(during), ended, ended, during, after, after, after,
                       during, after, after])  # rows in EVENT_TYPES order
    return imp_ts[None, :] + offset


def _first_follows(acts: np.ndarray, act_ts: np.ndarray, user: np.ndarray,
                   creator: np.ndarray, n_users: int) -> np.ndarray:
    """The follow flags with only the earliest follow of each (user, creator) kept."""
    rows = np.flatnonzero(acts[FOLLOW])
    order = rows[np.lexsort((act_ts[FOLLOW, rows], user[rows] * n_users + creator[rows]))]
    keys = user[order] * n_users + creator[order]
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    flags = np.zeros_like(acts[FOLLOW])
    flags[order[keep]] = True
    return flags


def _rows(world: LogWorld, sessions: Sessions, sess: np.ndarray, item: np.ndarray,
          watch_us: np.ndarray, acts: np.ndarray, act_ts: np.ndarray, day_end_us: int,
          next_event: int) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Long-format event rows for everything that happened before the day ended."""
    kind, imp = np.nonzero(acts & (act_ts < day_end_us))
    ts = act_ts[kind, imp]
    user = sessions.user[sess[imp]]
    order = np.lexsort((item[imp], kind, user, ts))
    kind, imp, ts, user = kind[order], imp[order], ts[order], user[order]
    ids = pl.Series(np.arange(next_event, next_event + kind.size, dtype=np.int64) + 1)
    watch = pl.Series("watch_ms", (watch_us[imp] // 1000).astype(np.int32))
    frame = pl.DataFrame([
        ("e" + ids.cast(pl.String).str.zfill(_EVENT_ID_WIDTH)).rename("event_id"),
        world.user_ids.gather(user).rename("user_id"),
        world.item_ids.gather(item[imp]).rename("item_id"),
        pl.Series("event_type", EVENT_TYPES).gather(kind),
        ts_series("ts", ts),
        pl.select(pl.when(pl.Series(kind == IMPRESSION)).then(watch)).to_series(),
        ip_strings(sessions.ip, "ip").gather(sess[imp]),
    ])
    return frame, kind, imp


def simulate_day(world: LogWorld, state: LogState, day: int, day_start_us: int) -> DayLog:
    """Generate one day of the log and the state the next day starts from."""
    day_end_us = day_start_us + US_PER_DAY
    people, cat = world.people, world.catalog
    sessions = draw_sessions(world.seed, day, day_start_us, people, world.audience,
                             world.config)
    sess, item = choose_items(stage_rng(world.seed, "events", day, 1), sessions, people,
                              world.audience, cat, world.index, state.follow_keys,
                              state.seen_keys, state.trend, day_start_us, world.config)
    rng = stage_rng(world.seed, "events", day, 2)
    user = sessions.user[sess]
    watch_us, acts = _outcomes(rng, world, user, item, state.follow_keys)
    act_ts = _timeline(rng, sessions, sess, watch_us, acts)
    acts[FOLLOW] = _first_follows(acts, act_ts, user, cat.creator[item], people.size)
    frame, kind, imp = _rows(world, sessions, sess, item, watch_us, acts, act_ts, day_end_us,
                             state.next_event)
    return DayLog(events=frame, **_follows_made(world, kind, imp, user, item, act_ts),
                  state=_next_state(world, state, kind, imp, user, item, day_start_us,
                                    frame.height))


def _follows_made(world: LogWorld, kind: np.ndarray, imp: np.ndarray, user: np.ndarray,
                  item: np.ndarray, act_ts: np.ndarray) -> dict[str, np.ndarray]:
    rows = imp[kind == FOLLOW]
    return {"follower": user[rows], "followee": world.catalog.creator[item[rows]],
            "follow_us": act_ts[FOLLOW, rows]}


def _next_state(world: LogWorld, state: LogState, kind: np.ndarray, imp: np.ndarray,
                user: np.ndarray, item: np.ndarray, day_start_us: int, n_events: int
                ) -> LogState:
    """Add today's impressions, follows and engagement to what carries over."""
    n_items, n_users = world.catalog.size, world.people.size
    shown = imp[kind == IMPRESSION]
    seen_new = np.sort(user[shown] * n_items + item[shown])
    seen = np.insert(state.seen_keys, np.searchsorted(state.seen_keys, seen_new), seen_new)
    day_end_us = day_start_us + US_PER_DAY
    planned = world.planned_follow_key[(world.planned_follow_us >= day_start_us)
                                       & (world.planned_follow_us < day_end_us)]
    followed = imp[kind == FOLLOW]
    made = user[followed] * n_users + world.catalog.creator[item[followed]]
    follow_keys = np.unique(np.concatenate([state.follow_keys, planned, made]))
    cell = world.people.country[user[imp]] * n_items + item[imp]
    lift = np.bincount(cell, weights=_TREND_WEIGHT[kind], minlength=len(COUNTRIES) * n_items)
    trend = state.trend * _TREND_DECAY + lift.reshape(len(COUNTRIES), n_items)
    return LogState(seen_keys=seen, follow_keys=follow_keys, trend=trend,
                    next_event=state.next_event + n_events)
