"""What every ranking component receives: one user's query (who, under which policy, with
which taste vector) and the serving snapshot; and what a source returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking.live import UserPolicy

__all__ = ["Candidates", "UserQuery"]


@dataclass(frozen=True)
class UserQuery:
    """`row`: the user's row in the snapshot (-1: unknown to it); `vector`: the taste vector
    the policy allows (None: none, or not allowed, e.g. built from chat after an opt-out)."""

    user_id: object
    row: int
    policy: UserPolicy
    vector: np.ndarray | None


@dataclass(frozen=True)
class Candidates:
    """Item rows of the snapshot, each with the proposing source's score."""

    rows: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
