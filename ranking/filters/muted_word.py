"""Drop videos whose caption or generation prompt holds a word the user muted
(`/v1/me/mutes`): whole words or phrases, any case ("cat" mutes "Cat" and "#cat", not
"catalog"). The snapshot's items carry their text, and so do the generations made since.
Not applied when personalization is off (that feed uses no per-user signal)."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "muted_word"


def applies(policy) -> bool:
    return policy.personalized


def drop(snap, query, _live, rows: np.ndarray) -> np.ndarray:
    pattern = query.controls.word_pattern
    if pattern is None or not len(rows):
        return np.zeros(len(rows), dtype=bool)
    return np.fromiter((pattern.search(text) is not None for text in snap.texts_of(rows)),
                       dtype=bool, count=len(rows))
