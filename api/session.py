"""Reading one user's session for a request: what the feed must know beyond the snapshot.

- what was served to them within `served_window_hours` (the store's history and what this
  process served but has not written yet), oldest served first;
- what they did since (their events in the inbox, drained or not, within the same window):
  what they engaged with is not served again; likes, watches to the end and shares move the
  next page toward those items; "not interested" keeps the creator out and sinks the topic
  for `not_interested_hours`; `skip_run` skips in a row on one topic sink it; a report hides
  the item from them at once;
- what enough people reported (`report_hide_threshold` distinct reporters since a moderator
  last labelled the item): hidden from everyone, personalized or not, until a moderator
  labels it (`ReportTally`, polled from the inbox by seq, one range read when nothing is new).

Events are read by the time they happened, so an event the snapshot already counted may be
read again: every use of them is idempotent (an exclusion, a bounded pull of the taste
vector). And loading the batch's precomputed pages.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from api.history import HistoryWriter
from ranking.session import Session
from ranking.snapshot.view import View
from reelrank.control import history
from reelrank.control.connection import Connection, stamp
from reelrank.control.inbox import recent_events
from reelrank.control.labels import reviews_after
from reelrank.settings import Settings

__all__ = ["ReportTally", "SessionReader", "session_from_events", "stored_feeds"]

log = logging.getLogger(__name__)

# Events that say the person engaged with the item: it is not served to them again.
_ENGAGED = frozenset({"skip", "complete", "like", "comment", "share", "remix", "follow",
                      "not_interested", "report"})
_POSITIVE = frozenset({"complete", "like", "comment", "share", "remix"})
_LIKED_KEEP = 50  # the newest liked items a session carries (the source reads fewer)


class ReportTally:
    """Items enough distinct people reported since a moderator last labelled them: hidden
    from every feed until one does. Process-wide: fed the reports among the events the
    service polls from the inbox (`add`), and polling the label log after the last seq it
    has seen (`poll`)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self._review_seq = 0
        self._reporters: dict[object, dict[object, str]] = {}  # item -> reporter -> when
        self._reviewed: dict[object, str] = {}  # item -> when a moderator last labelled it
        self.hidden: frozenset[object] = frozenset()

    def add(self, reports: Iterable[tuple[object, object, str]]) -> None:
        """(reporter, item, received_at) of reports posted since the last call."""
        with self._lock:
            changed = False
            for user, item, at in reports:
                self._reporters.setdefault(item, {})[user] = str(at)
                changed = True
            if changed:
                self._recount()

    def poll(self, con: Connection) -> frozenset[object]:
        """Read the labels set since the last call and return the items hidden now."""
        with self._lock:
            changed = False
            while reviews := reviews_after(con, self._review_seq):
                for _seq, item, at in reviews:
                    self._reviewed[item] = max(str(at), self._reviewed.get(item, ""))
                self._review_seq = reviews[-1][0]
                changed = True
            if changed:
                self._recount()
            return self.hidden

    def _recount(self) -> None:
        self.hidden = frozenset(
            item for item, who in self._reporters.items()
            if sum(at > self._reviewed.get(item, "") for at in who.values())
            >= self.threshold)


def session_from_events(view: View, events: Iterable[tuple[object, str, str]],
                        settings: Settings, now: datetime, *,
                        served: np.ndarray | None = None,
                        hidden: Iterable[object] = ()) -> Session:
    """The session the user's events make (item, type, ts; in the order they happened),
    over the rows of `view`. `hidden`: items hidden from everyone (`ReportTally`)."""
    weights = {"like": settings.session_weight_like, "complete": settings.session_weight_complete,
               "share": settings.session_weight_share}
    muted_since = stamp(now - timedelta(hours=settings.not_interested_hours))
    engaged: dict[int, None] = {}
    reported: dict[int, None] = {}
    liked: dict[int, float] = {}
    recent: dict[int, None] = {}
    creators: set[int] = set()
    topics: set[int] = set()
    skips: dict[int, int] = {}  # topic -> skips in a row on it
    events = list(events)
    rows = np.array([view.row_of(item) for item, _k, _t in events], dtype=np.int64)
    known = rows >= 0
    topic_of = np.full(len(rows), -1, dtype=np.int64)
    creator_of = np.full(len(rows), -1, dtype=np.int64)
    if known.any():
        topic_of[known] = view.take("item_topic", rows[known])
        creator_of[known] = view.take("item_creator", rows[known])
    for n, (_item, kind, ts) in enumerate(events):
        if not known[n]:
            continue
        row, topic = int(rows[n]), int(topic_of[n])
        if kind in _ENGAGED:
            engaged.pop(row, None)
            engaged[row] = None
        if kind == "report":
            reported[row] = None
        elif kind == "not_interested" and str(ts) >= muted_since:
            if creator_of[n] >= 0:
                creators.add(int(creator_of[n]))
            if topic >= 0:
                topics.add(topic)
        elif kind == "skip" and topic >= 0:
            skips[topic] = skips.get(topic, 0) + 1
            if skips[topic] >= settings.skip_run:
                topics.add(topic)
        if kind in _POSITIVE:
            skips.pop(topic, None)
            recent.pop(row, None)
            recent[row] = None
        if kind in weights and weights[kind] > 0:
            liked[row] = liked.pop(row, 0.0) + weights[kind]
    everyone = [r for r in (view.row_of(i) for i in hidden) if r >= 0]
    newest_liked = list(liked.items())[::-1][:_LIKED_KEEP]
    return Session(
        served=np.empty(0, dtype=np.int64) if served is None else served,
        engaged=np.fromiter(engaged, dtype=np.int64, count=len(engaged)),
        hidden=np.unique(np.array([*reported, *everyone], dtype=np.int64)),
        liked=tuple(newest_liked),
        muted_creators=np.array(sorted(creators), dtype=np.int64),
        muted_topics=np.array(sorted(topics), dtype=np.int64),
        recent=np.fromiter(recent, dtype=np.int64, count=len(recent)))


class SessionReader:
    def __init__(self, settings: Settings, writer: HistoryWriter | None) -> None:
        self.settings = settings
        self.window = timedelta(hours=settings.served_window_hours)
        self.events_window = timedelta(hours=max(settings.served_window_hours,
                                                 settings.not_interested_hours))
        self.writer = writer
        self.reports = ReportTally(settings.report_hide_threshold)

    def _served(self, con: Connection, user: object, view: View, now: datetime
                ) -> np.ndarray:
        """Rows served to `user` within the window, oldest first (the writer's pending
        batch included: a page not yet flushed is served all the same)."""
        since = now - self.window
        served = dict(history.served_since(con, user, since))
        cutoff = stamp(since)
        pending = self.writer.pending(user) if self.writer is not None else {}
        for item, at in pending.items():
            if at >= cutoff and at > served.get(item, ""):
                served[item] = at
        ordered = sorted(served, key=lambda i: (served[i], str(i)))
        rows = np.array([view.row_of(i) for i in ordered], dtype=np.int64)
        return rows[rows >= 0]

    def read(self, con: Connection, user: object, view: View, now: datetime) -> Session:
        """The whole session of a personalized feed."""
        events = recent_events(con, user, now - self.events_window)
        return session_from_events(view, events, self.settings, now,
                                   served=self._served(con, user, view, now),
                                   hidden=self.reports.poll(con))

    def read_safety(self, con: Connection, user: object, view: View, now: datetime
                    ) -> Session:
        """What a feed without personalization still honours: the user's own reports and
        what enough people reported (safety, not personalization), and what it served them
        lately (delivery bookkeeping, as the scroll limit's count is: the order stays the
        country's, the feed just does not show a child the same videos again)."""
        events = [e for e in recent_events(con, user, now - self.events_window)
                  if e[1] == "report"]
        full = session_from_events(view, events, self.settings, now,
                                   hidden=self.reports.poll(con))
        return Session(served=self._served(con, user, view, now), hidden=full.hidden)


def stored_feeds(feeds_dir: Path | None, snapshot: str
                 ) -> tuple[dict[object, tuple[int, int]], pl.DataFrame | None]:
    """The batch's pages for `snapshot` (user -> row span in the frame), if it wrote any."""
    if feeds_dir is None or _manifest_snapshot(feeds_dir) != snapshot:
        return {}, None
    feeds = pl.read_parquet(feeds_dir / "part-*.parquet").sort("user_id", "position")
    starts = feeds.with_row_index("n").group_by("user_id", maintain_order=True).agg(
        pl.col("n").min().alias("start"), pl.len().alias("n"))
    return {u: (int(s), int(s + n)) for u, s, n in starts.iter_rows()}, feeds


def _manifest_snapshot(feeds_dir: Path) -> str | None:
    try:
        return json.loads((feeds_dir / "manifest.json").read_text()).get("snapshot")
    except (OSError, ValueError):
        return None
