"""Who plays today, how many videos each wants to watch, and when they open the app.

- Returning users are world users with at least one event in the world's log; new users
  (`new_users`) are world users with none: accounts that exist but have never watched, so
  the engine knows nothing about them, while the truth model still knows their taste.
- Both are drawn without replacement with the chance the world gives a user of opening the
  app on a day, 1 - exp(-return_rate * activity) (`WorldConfig`), so a simulated day's
  audience leans to the active the way the log's days do.
- Each person's session wants `session_sizes` impressions, the world's own gamma-Poisson
  draw from their activity, and opens around their local evening, as `draw_sessions` opens
  the log's sessions.

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

__all__ = ["COHORTS", "Person", "choose_persons", "stream"]

COHORTS = ("returning", "new")
# Stage keys of the generators (a fixed number each, so adding one changes no other).
_CHOOSE, _SESSION, _GAPS, _IMPRESSION = range(4)
_SECONDS_PER_IMPRESSION = 15     # as the world keeps a late session inside its day


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

    def gaps(self, seed: int) -> np.random.Generator:
        """The pauses between this person's videos, one draw per impression."""
        return stream(seed, _GAPS, self.index)

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


def choose_persons(world: TruthWorld, config: SessionConfig, today: date,
                   world_config: WorldConfig | None = None) -> list[Person]:
    """Returning users first, then new ones; fewer new ones than asked if the world has
    fewer users without history (the caller reports how many played)."""
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
            draw = stream(config.seed, _SESSION, row)
            wants = int(session_sizes(draw, world.activity[[row]].astype(np.float64),
                                      world_config)[0])
            local_h = draw.normal(world_config.peak_local_hour, world_config.hour_spread)
            opens_s = ((local_h - world.utc_offset_h[row]) % 24.0) * 3600.0
            latest = 86_400 - (wants * _SECONDS_PER_IMPRESSION + 60)
            start = day_start + timedelta(seconds=float(max(min(opens_s, latest), 0)))
            persons.append(Person(world.user_ids[row], row, cohort, wants, start))
    return persons
