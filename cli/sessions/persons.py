"""Who plays today, how many videos each wants to watch, and when they open the app.

- Returning users are world users with at least one event in the world's log; new users
  (`new_users`) are world users with none: accounts that exist but have never watched, so
  the engine knows nothing about them, while the truth model still knows their taste.
- Both are drawn without replacement with the chance the world gives a user of opening the
  app on a day, 1 - exp(-return_rate * activity) (`WorldConfig`), so a simulated day's
  audience leans to the active the way the log's days do.
- How often: the world gives a user the chance 1 - exp(-return_rate * activity) of opening
  the app on a day, the chance that a Poisson(return_rate * activity) count of openings is
  not 0; its log writes the first opening alone. A person here opens the app that Poisson
  number of times, drawn given at least one (capped at `MOST_SESSIONS`), or exactly
  `SessionConfig.sessions` times when it is set (1: the log's one session a day).
- Each session wants `session_sizes` impressions, the world's own gamma-Poisson draw from
  the person's activity, and opens around their local evening, as `draw_sessions` opens the
  log's sessions; a person's later sessions open at least `SESSION_GAP_S` after the time
  their previous one would take (`_SECONDS_PER_IMPRESSION` a video), and one that cannot end
  within the day is not played. One session's draws are those of a one-session day, so
  `sessions=1` plays the day the log's rhythm gives.

Every draw comes from a generator keyed by (seed, stage, user), so a person is the same
person in the live and the static run, whoever else plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from cli.sessions.config import SessionConfig
from cli.sessions.truth import TruthWorld
from reelrank.simulate.config import WorldConfig
from reelrank.simulate.sessions import session_sizes

__all__ = ["COHORTS", "MOST_SESSIONS", "SESSION_GAP_S", "Person", "choose_persons", "stream"]

COHORTS = ("returning", "new")
MOST_SESSIONS = 12               # a day's openings drawn from the world, at most
SESSION_GAP_S = 600              # least time between the end of one session and the next
# Stage keys of the generators (a fixed number each, so adding one changes no other).
_CHOOSE, _SESSION, _GAPS, _IMPRESSION, _DAY = range(5)
_SECONDS_PER_IMPRESSION = 15     # as the world keeps a late session inside its day
_DAY_S = 86_400


def stream(seed: int, stage: int, *key: int) -> np.random.Generator:
    """The independent generator of one stage and key (a person, an impression)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(stage, *key)))


@dataclass(frozen=True)
class Person:
    user_id: object
    index: int              # the user's position in the world
    cohort: str             # "returning" or "new"
    wants: int              # impressions the session wants before it stops
    start: datetime         # when the session opens
    session: int = 1        # the person's 1st, 2nd, ... session of the day

    def gaps(self, seed: int) -> np.random.Generator:
        """The pauses between this person's videos in this session, one draw a video."""
        if self.session == 1:
            return stream(seed, _GAPS, self.index)
        return stream(seed, _GAPS, self.index, self.session)

    def impression_rng(self, seed: int, item: int) -> np.random.Generator:
        """What this person does with world item `item`: keyed by the pair, so the same
        video draws the same reaction in the live and the static run."""
        return stream(seed, _IMPRESSION, self.index, item)


def _weighted_sample(rng: np.random.Generator, candidates: np.ndarray, weight: np.ndarray,
                     k: int) -> np.ndarray:
    """`k` of `candidates` without replacement, in proportion to `weight` (Efraimidis-
    Spirakis keys log(U) / w), returned in id order."""
    if k >= candidates.size:
        return candidates
    keys = np.log(rng.random(candidates.size)) / np.maximum(weight, 1e-12)
    return np.sort(candidates[np.argsort(-keys, kind="stable")[:k]])


def _openings(rng: np.random.Generator, rate: float, fixed: int | None) -> int:
    """How many times a person opens the app today: `fixed`, or Poisson(rate) given >= 1."""
    if fixed is not None:
        return fixed
    if rate <= 0:
        return 1
    # Inverse transform within the Poisson's mass above 0: exact, and one uniform a person.
    u = rng.uniform(np.exp(-rate), 1.0)
    count, mass, total = 0, np.exp(-rate), np.exp(-rate)
    while total < u and count < MOST_SESSIONS:
        count += 1
        mass *= rate / count
        total += mass
    return max(count, 1)


def _local_start(draw: np.random.Generator, world_config: WorldConfig, offset_h: float
                 ) -> float:
    """Seconds into the UTC day of an opening around the person's local evening."""
    local_h = draw.normal(world_config.peak_local_hour, world_config.hour_spread)
    return float(((local_h - offset_h) % 24.0) * 3600.0)


def _latest(wants: int) -> float:
    return float(_DAY_S - (wants * _SECONDS_PER_IMPRESSION + 60))


def _day(world: TruthWorld, row: int, config: SessionConfig, world_config: WorldConfig,
         day_start: datetime) -> list[tuple[int, datetime]]:
    """(impressions wanted, start) of each of the person's sessions today, in order."""
    activity = world.activity[[row]].astype(np.float64)
    offset_h = float(world.utc_offset_h[row])
    draw = stream(config.seed, _SESSION, row)       # the first session: a one-session day's
    wants = int(session_sizes(draw, activity, world_config)[0])
    opens_s = _local_start(draw, world_config, offset_h)
    more = stream(config.seed, _DAY, row)
    count = _openings(more, world_config.return_rate * float(activity[0]), config.sessions)
    planned = [(opens_s, wants)] + [(_local_start(more, world_config, offset_h),
                                     int(session_sizes(more, activity, world_config)[0]))
                                    for _ in range(count - 1)]
    # In time order, each opening once the one before would have ended; the earliest opens
    # when drawn (kept inside the day, as the world keeps a late session).
    sessions: list[tuple[int, datetime]] = []
    free_at = 0.0
    for opens, wants_here in sorted((min(max(o, 0.0), max(_latest(w), 0.0)), w)
                                    for o, w in planned):
        start = max(opens, free_at)
        if sessions and start > _latest(wants_here):
            continue                            # the day is over before it could end
        sessions.append((wants_here, day_start + timedelta(seconds=start)))
        free_at = start + wants_here * _SECONDS_PER_IMPRESSION + SESSION_GAP_S
    return sorted(sessions, key=lambda s: s[1])


def choose_persons(world: TruthWorld, config: SessionConfig, today: date,
                   world_config: WorldConfig | None = None) -> list[Person]:
    """Every session of today's persons: returning users first, then new ones, each
    person's sessions in order; fewer new ones than asked if the world has fewer users
    without history (the caller reports how many played)."""
    world_config = world_config or WorldConfig()
    rng = stream(config.seed, _CHOOSE)
    opens = 1 - np.exp(-world_config.return_rate * world.activity.astype(np.float64))
    everyone = np.arange(len(world.user_ids))
    chosen = [(cohort, _weighted_sample(rng, everyone[mask], opens[mask], k))
              for cohort, mask, k in (("returning", world.active, config.users),
                                      ("new", ~world.active, config.new_users))]
    day_start = datetime(today.year, today.month, today.day, tzinfo=UTC)
    persons = []
    for cohort, rows in chosen:
        for row in rows.tolist():
            for n, (wants, start) in enumerate(
                    _day(world, row, config, world_config, day_start), start=1):
                persons.append(Person(world.user_ids[row], row, cohort, wants, start, n))
    return persons
