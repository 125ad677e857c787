"""Drop what was served to the user within `served_window_hours`: a feed does not repeat
itself (the API serves such items again, oldest first, only when nothing else is servable).
Applied when personalization is off too: served history is the feed's own delivery record
(as the scroll limit's count is), not a signal about the person; the ranking stays the
country's, and a child just does not get the same videos every time the app opens."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "served_recently"


def applies(_policy) -> bool:
    return True


def drop(_snap, query, _live, rows: np.ndarray) -> np.ndarray:
    served = query.session.served
    return np.isin(rows, served) if len(served) else np.zeros(len(rows), dtype=bool)
