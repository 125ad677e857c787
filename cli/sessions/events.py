"""Turning what a person did with one video into the events the app posts for it.

The rows of an action matrix are the world's `EVENT_TYPES` in order (the events contract's
list too; tests/test_sessions.py holds them equal). Times follow the world's log: the
impression as the video starts, a skip or a completion as it is left, a like or a follow
during the watch, a comment, share, remix, "not interested" or report just after.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from reelrank.simulate.engagement import EVENT_TYPES

__all__ = ["EVENT_TYPES", "ROW", "page_events"]

ROW = {name: n for n, name in enumerate(EVENT_TYPES)}
_DURING = frozenset({"like", "follow"})
_ENDED = frozenset({"skip", "complete"})


def _offset(name: str, watch_ms: int) -> timedelta:
    if name == "impression":
        return timedelta(0)
    if name in _DURING:
        return timedelta(milliseconds=watch_ms / 2, microseconds=1)
    if name in _ENDED:
        return timedelta(milliseconds=watch_ms, microseconds=1)
    return timedelta(milliseconds=watch_ms, microseconds=2)


def page_events(prefix: str, user_id: object, views: list[tuple[object, datetime, int,
                                                                 np.ndarray]],
                first_seq: int) -> list[dict[str, object]]:
    """Events for `views` = (item id, when it started, watched ms, action flags) in order;
    ids are `prefix-user-seq`, numbered from `first_seq`."""
    out: list[dict[str, object]] = []
    seq = first_seq
    for item_id, started, watch_ms, acts in views:
        for row in np.flatnonzero(acts).tolist():
            name = EVENT_TYPES[row]
            event: dict[str, object] = {
                "event_id": f"{prefix}-{user_id}-{seq}", "user_id": user_id,
                "item_id": item_id, "event_type": name,
                "ts": (started + _offset(name, watch_ms)).isoformat()}
            if name == "impression":
                event["watch_ms"] = int(watch_ms)
            out.append(event)
            seq += 1
    return out
