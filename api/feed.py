"""A page of feed for one request: the precomputed page when it is still valid, else an
online ranking; in both cases the policy re-applied against the live control store, and
the day's scroll allowance claimed atomically.

A precomputed page is valid only when ranking now would use the same inputs as the batch
did: the same snapshot, a personalized account (a guardian may have switched that off
since) and, if the user's taste vector came from chat interests, a chat setting still on.
Otherwise the user is ranked online (milliseconds), so an opt-out or a guardian change
applies on the very next request.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from ranking.engine import Engine, Page
from ranking.policy import claim_served, read_live, servable
from ranking.snapshot.overlay import LiveItems
from ranking.snapshot.view import View, view_of
from reelrank.control.connection import Connection
from reelrank.control.items import new_generated_items
from reelrank.control.labels import label_changes
from reelrank.errors import ReelrankError

__all__ = ["FeedItem", "FeedPage", "FeedService", "reason_for"]

REASONS = {
    "graph": "from people you follow",
    "trending": "popular near you",
    "fresh": "new today",
    "collaborative": "liked by people with similar taste",
}


@dataclass(frozen=True)
class FeedItem:
    item_id: object
    score: float
    source: str
    reason: str


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    cursor: str | None
    remaining_today: int | None
    precomputed: bool
    removed: dict[str, int]


def _encode(snapshot: str, offset: int) -> str:
    raw = json.dumps({"s": snapshot, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        snapshot, offset = data["s"], data["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ReelrankError(f"cursor {cursor!r} is not one this server issued") from exc
    if not isinstance(offset, int) or offset < 0 or not isinstance(snapshot, str):
        raise ReelrankError(f"cursor {cursor!r} is not one this server issued")
    return snapshot, offset


class FeedService:
    """Holds one engine, what changed since its snapshot (an overlay this service owns
    and replaces whole, never edits: items made since, moderators' labels), and, when the
    batch wrote them for the same snapshot, its pages."""

    def __init__(self, engine: Engine, feeds_dir: Path | None) -> None:
        self.engine = engine
        self.snapshot = engine.snap.directory.name
        self.items = LiveItems.empty(engine.snap)
        self._lock = threading.Lock()
        self._live_seq = 0
        self._label_seq = 0
        self._live_creators: set[int] = set()
        self._pages: dict[object, tuple[int, int]] = {}
        self._feeds: pl.DataFrame | None = None
        if feeds_dir is not None and _manifest_snapshot(feeds_dir) == self.snapshot:
            feeds = pl.read_parquet(feeds_dir / "part-*.parquet").sort("user_id", "position")
            starts = feeds.with_row_index("n").group_by("user_id", maintain_order=True).agg(
                pl.col("n").min().alias("start"), pl.len().alias("n"))
            self._pages = {u: (int(s), int(s + n)) for u, s, n in starts.iter_rows()}
            self._feeds = feeds

    @property
    def precomputed_users(self) -> int:
        return len(self._pages)

    def sync(self, control: Connection) -> int:
        """Add generations finished since the last call (same-day reach: a friend's next
        request can show them) and apply moderators' labels set since (the next request
        is ranked under them). Two indexed reads when there is nothing new."""
        with self._lock:
            fresh = new_generated_items(control, after_seq=self._live_seq)
            labels = self._labels_since(control)
            if not fresh and not labels:
                return 0
            before = self.items
            items = before.relabel(self.engine.snap, labels)
            if fresh:
                self._live_seq = max(int(r["seq"]) for r in fresh)
                items = items.add(self.engine.snap, fresh)
                self._live_creators.update(self.engine.snap.user_row.get(r["creator_id"], -1)
                                           for r in fresh)
            self.items = items  # one reference swap
            return len(self.items) - len(before)

    def _labels_since(self, control: Connection) -> dict[object, str]:
        """Item -> its newest label among the changes since the last call (all of them,
        the first time: labels set before this snapshot was made are in it already, and
        applying them again changes nothing)."""
        labels: dict[object, str] = {}
        while changes := label_changes(control, after_seq=self._label_seq):
            labels.update((item, label) for _seq, item, label in changes)
            self._label_seq = changes[-1][0]
        return labels

    def page(self, control: Connection, user_id: object, *, limit: int,
             cursor: str | None, now: datetime) -> FeedPage:
        offset = 0
        if cursor is not None:
            _snapshot, offset = _decode(cursor)
        self.sync(control)
        items = self.items  # read once: this request ranks on exactly these
        view = view_of(self.engine.snap, items)
        live = read_live(control, [user_id], now.date())
        policy = live.policy(user_id)
        engine = self.engine
        query = engine.query(user_id, policy)
        stored = self._stored(user_id, query)
        removed: dict[str, int] = {}
        if stored is not None:
            rows = np.array([view.row_of(i) for i in stored.item_ids], dtype=np.int64)
            known = rows >= 0
            keep, removed = servable(view, query, live, np.where(known, rows, 0))
            keep &= known
            page = Page(user_id, [i for i, k in zip(stored.item_ids, keep) if k],
                        stored.scores[keep], [s for s, k in zip(stored.sources, keep) if k])
        else:
            out = engine.rank([user_id], live, items)
            page, removed = out.pages[0], out.removed
        window = slice(offset, offset + limit)
        ids, scores, sources = page.item_ids[window], page.scores[window], page.sources[window]
        allowed = claim_served(control, policy, len(ids), now)
        ids, scores, sources = ids[:allowed], scores[:allowed], sources[:allowed]
        shown = [FeedItem(i, float(s), src, reason_for(view, query, i, src))
                 for i, s, src in zip(ids, scores, sources, strict=True)]
        end = offset + len(shown)
        more = end < len(page.item_ids) and len(shown) == limit
        remaining = None
        if policy.daily_limit is not None:
            remaining = max(policy.daily_limit - policy.served_today - allowed, 0)
        return FeedPage(shown, _encode(self.snapshot, end) if more else None, remaining,
                        stored is not None, removed)

    def _stored(self, user_id: object, query) -> Page | None:
        span = self._pages.get(user_id)
        if span is None or self._feeds is None or not query.policy.personalized:
            return None
        snap = self.engine.snap
        if query.row >= 0 and snap.user_vector_from_chat[query.row] \
                and not query.policy.chat_history:
            return None
        if self._live_creators and query.row >= 0:
            people = snap.people.values[snap.people.of(query.row)]
            if np.isin(people, list(self._live_creators)).any():
                return None  # someone they follow made something since: rank it in
        part = self._feeds.slice(span[0], span[1] - span[0])
        return Page(user_id, part["item_id"].to_list(), part["score"].to_numpy(),
                    part["source"].to_list())


def reason_for(view: View | Engine, query, item_id: object, source: str) -> str:
    """A short why: the first of the sources that proposed the item, in order of how
    personal an explanation it gives. `view`: what the page was ranked on (an engine
    means its snapshot)."""
    names = source.split(",")
    if "similar" in names and query.row >= 0 and query.policy.personalized:
        snap = view.snap if isinstance(view, Engine) else view
        seen = snap.seen.values[snap.seen.of(query.row)]
        row = snap.row_of(item_id)
        if len(seen) and row >= 0 and snap.take("has_vector", np.array([row]))[0]:
            vector = snap.take("item_vectors", np.array([row]))[0]
            closest = seen[int(np.argmax(snap.item_vectors[seen] @ vector))]
            return f"because you watched {snap.item_id_list[int(closest)]}"
    for name in ("graph", "collaborative", "trending", "fresh"):
        if name in names:
            return REASONS[name]
    return "recommended for you"


def _manifest_snapshot(feeds_dir: Path) -> str | None:
    try:
        return json.loads((feeds_dir / "manifest.json").read_text()).get("snapshot")
    except (OSError, ValueError):
        return None
