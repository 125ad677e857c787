"""The order of a feed that may use no per-user signal (a guardian switched personalization
off): popularity alone (hard rule 2)."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "unpersonalized"
WRITES = ("score",)


def applies(_ctx: Scoring, query: UserQuery) -> bool:
    return not query.policy.personalized


def score(_ctx: Scoring, _queries: list[UserQuery], _pools: list[Pool],
          columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    return {"score": list(columns["popularity"])}
