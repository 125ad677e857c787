"""Experiments in the server: which running experiment a request takes part in, the engines of
its variants (all loaded at once, over the same snapshot), and the team-draft interleaving of
two rankings into one page.

The experiments are read from the control store at most every `experiments_poll_s`, so a
`reelrank experiments stop` reaches every API process within that time. A user takes part in
at most one experiment at a time: the oldest running one whose assignment enrols them.
Supervised accounts and personalization-off accounts are never enrolled. Every variant's
engine runs the same feed definition, so the policy applies to each unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ranking.engine import Engine, Page
from ranking.live import UserPolicy
from ranking.ranker import TrainedRanker
from reelrank.control import experiments as store
from reelrank.control.connection import Connection, stamp
from reelrank.errors import ReelrankError
from reelrank.experiments import Experiment, Variant

__all__ = ["Arm", "ExperimentRouter", "team_draft"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arm:
    """Where one request stands in an experiment: the variant's engine (ab), or both teams'
    engines in the experiment's order (interleave)."""

    experiment: Experiment
    variant: str                        # the variant, or "interleaved"
    engines: tuple[Engine, ...]
    teams: tuple[str, ...] = ()         # interleave: the two variants' names
    plain: bool = False                 # ab: the variant changes nothing (may use the batch)


class ExperimentRouter:
    def __init__(self, engine: Engine) -> None:
        self.base = engine
        self._experiments: list[Experiment] = []
        self._read_s = -1e18
        self._engines: dict[tuple[str, str], Engine] = {}
        self._lock = threading.Lock()
        self._broken: set[str] = set()

    def running(self, control: Connection, now: datetime) -> list[Experiment]:
        poll = float(self.base.settings.experiments_poll_s)
        if time.monotonic() - self._read_s >= poll:
            self._experiments = store.list_all(control)
            self._read_s = time.monotonic()
        at = stamp(now)
        return [e for e in self._experiments if e.running(at)]

    def arm(self, control: Connection, user_id: object, policy: UserPolicy, now: datetime
            ) -> Arm | None:
        if policy.supervised or not policy.personalized:
            return None
        for experiment in self.running(control, now):
            variant = experiment.assign(user_id)
            if variant is None:
                continue
            try:
                if experiment.kind == "interleave":
                    a, b = experiment.variants
                    return Arm(experiment, variant, (self.engine(experiment, a),
                                                     self.engine(experiment, b)),
                               (a.name, b.name))
                chosen = next(v for v in experiment.variants if v.name == variant)
                return Arm(experiment, variant, (self.engine(experiment, chosen),),
                           plain=not chosen.overrides and chosen.ranker is None)
            except ReelrankError as exc:
                # A variant that cannot be served (its ranker vanished): the user gets the
                # served feed, recorded under no experiment, rather than an error.
                if experiment.name not in self._broken:
                    self._broken.add(experiment.name)
                    log.error("experiment %s not served: %s", experiment.name, exc)
                return None
        return None

    def engine(self, experiment: Experiment, variant: Variant) -> Engine:
        """The variant's engine over the served snapshot, built once."""
        if not variant.overrides and variant.ranker is None:
            return self.base
        key = (experiment.name, variant.name)
        with self._lock:
            if key not in self._engines:
                base = self.base
                settings = base.settings.model_copy(update=dict(variant.overrides))
                if variant.ranker is not None:
                    try:
                        ranker = TrainedRanker.load(variant.ranker)
                    except (OSError, ReelrankError) as exc:
                        raise ReelrankError(f"experiment {experiment.name}, variant "
                                            f"{variant.name}: ranker {variant.ranker} does "
                                            f"not load: {exc}") from exc
                    self._engines[key] = Engine(base.snap, settings, ranker)
                else:
                    self._engines[key] = Engine(base.snap, settings, base.ranker, base.predict)
            return self._engines[key]


def team_draft(first: Page, second: Page, limit: int, seed: str
               ) -> tuple[Page, list[int]]:
    """Team-draft interleaving (Radlinski et al., 2008): the team with fewer picks so far
    (a fair coin, seeded by `seed`, when even) adds its best item not yet on the page.
    Returns the merged page and, per item, the team (0 or 1) that picked it."""
    pages = (first, second)
    at = [0, 0]
    picks = [0, 0]
    taken: set[object] = set()
    ids, scores, sources, teams = [], [], [], []
    rounds = 0
    while len(ids) < limit:
        left = [at[t] < len(pages[t].item_ids) for t in (0, 1)]
        if not any(left):
            break
        if picks[0] != picks[1]:
            team = 0 if picks[0] < picks[1] else 1
        else:
            digest = hashlib.sha256(f"{seed}\x1f{rounds}".encode()).digest()
            team = digest[0] & 1
            rounds += 1
        if not left[team]:
            team = 1 - team
        page = pages[team]
        while at[team] < len(page.item_ids) and page.item_ids[at[team]] in taken:
            at[team] += 1
        if at[team] >= len(page.item_ids):
            picks[team] += 1  # nothing left on this side: let the other pick
            continue
        n = at[team]
        taken.add(page.item_ids[n])
        ids.append(page.item_ids[n])
        scores.append(float(page.scores[n]))
        sources.append(page.sources[n])
        teams.append(team)
        picks[team] += 1
        at[team] += 1
    return Page(first.user_id, ids, np.asarray(scores, dtype=np.float64), sources,
                first.personalized), teams
