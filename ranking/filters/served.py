"""Drop what was served to the user within `served_window_hours`: a feed does not repeat
itself (the API serves such items again, oldest first, only when nothing else is servable).
Not applied when personalization is off: that feed uses no per-user signal, and served
history is one."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "served_recently"


def applies(policy) -> bool:
    return policy.personalized


def drop(_snap, query, _live, rows: np.ndarray) -> np.ndarray:
    served = query.session.served
    return np.isin(rows, served) if len(served) else np.zeros(len(rows), dtype=bool)
