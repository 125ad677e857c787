"""Drop what the user reported (at once, from the very next request) and what enough distinct
people reported (`report_hide_threshold`), until a moderator reviews it. Applied to every
feed, personalized or not: honouring a report is safety, not personalization."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "reported"


def applies(_policy) -> bool:
    return True


def drop(_snap, query, _live, rows: np.ndarray) -> np.ndarray:
    hidden = query.session.hidden
    return np.isin(rows, hidden) if len(hidden) else np.zeros(len(rows), dtype=bool)
