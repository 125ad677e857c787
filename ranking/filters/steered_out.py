"""Drop what the user's steering says no to ("no pranks"): videos of the topic the phrase
names, and any at least `steering_no_similarity` alike to the phrase (cosine of the content
vectors, the phrase embedded by the same model as the captions). Not applied when
personalization is off: steering is the user's own signal (hard rule 2)."""

from __future__ import annotations

import numpy as np

from ranking.controls import likeness

__all__ = ["NAME", "applies", "drop"]

NAME = "steering_no"


def applies(policy) -> bool:
    return policy.personalized


def drop(snap, query, _live, rows: np.ndarray) -> np.ndarray:
    controls = query.controls
    which = controls.of_kind("no")
    if not which or not len(rows):
        return np.zeros(len(rows), dtype=bool)
    return (likeness(snap, controls, which, rows) >= controls.no_similarity).any(axis=0)
