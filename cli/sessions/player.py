"""One person's session against one feed: request a page, watch it video by video, post
what happened, ask for the next page, until they stop.

What they do with a video is the world's truth model (`TruthWorld.draw`), drawn from a
generator keyed by (person, video). Behaviour beyond the model, all deterministic:

- a video already shown to them today (in this session or an earlier one of the day) is
  not watched again: they flick past it (`repeat_watch_ms`, logged as an impression and a skip) and it
  counts as a repeat; so is a video the world has no truth for (made after it, say);
- a follow fires at most once per creator in a day (the world keeps a day's first), and
  as in the world's log a follow made today changes the model's inputs from tomorrow;
- they stop at the first of: the impressions their session wants (`Person.wants`), a run
  of `max_skip_run` skips, an empty page or a page without a cursor (the feed ended, or a
  guardian's scroll limit ran out), or `pages` pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from cli.sessions.config import SessionConfig
from cli.sessions.events import ROW, page_events
from cli.sessions.feed import Feed, Served
from cli.sessions.persons import Person
from cli.sessions.truth import TruthWorld

__all__ = ["STOPS", "Impression", "SessionResult", "Viewer", "play"]

STOPS = ("session_length", "skip_run", "feed_end", "scroll_limit", "pages")
_FLICK = np.zeros(len(ROW), dtype=bool)
_FLICK[[ROW["impression"], ROW["skip"]]] = True


@dataclass(frozen=True)
class Impression:
    page: int               # 1-based page number
    position: int           # 0-based position on the page
    item_id: object
    item: int               # the world's item position; -1 when the world does not know it
    repeat: bool            # shown to this person before, today
    watch_ms: int
    acts: np.ndarray        # bool flags in EVENT_TYPES order


@dataclass(frozen=True)
class SessionResult:
    person: Person
    stop: str
    pages: int              # pages that showed at least one video
    impressions: tuple[Impression, ...]


class Viewer:
    """A person's state within a day, across their sessions: what they have seen, whom they
    followed, and how many events they have posted (event ids go on counting)."""

    def __init__(self, person: Person, world: TruthWorld, config: SessionConfig) -> None:
        self.person, self.world, self.config = person, world, config
        self.seen: set[object] = set()
        self.followed: set[int] = set()
        self.seq = 0

    def react(self, item_id: object) -> tuple[int, bool, int, np.ndarray]:
        """(world item, repeat, watched ms, action flags) for the next video."""
        item = self.world.item_index.get(item_id, -1)
        repeat = item_id in self.seen
        self.seen.add(item_id)
        if repeat or item < 0:
            return item, repeat, self.config.repeat_watch_ms, _FLICK.copy()
        rng = self.person.impression_rng(self.config.seed, item)
        watch_us, acts = self.world.draw(rng, np.array([self.person.index]), np.array([item]))
        flags = acts[:, 0].copy()
        creator = int(self.world.item_creator[item])
        if flags[ROW["follow"]]:
            flags[ROW["follow"]] = creator not in self.followed
            self.followed.add(creator)
        return item, False, int(watch_us[0] // 1000), flags


def _ended(served: Served) -> str:
    return "scroll_limit" if served.remaining_today == 0 else "feed_end"


def play(person: Person, feed: Feed, world: TruthWorld, config: SessionConfig,
         event_prefix: str, viewer: Viewer | None = None) -> SessionResult:
    """Play `person`'s session on `feed`; events are posted after each page. `viewer`: the
    person's day so far (their earlier sessions'); a fresh day when None."""
    if viewer is None:
        viewer = Viewer(person, world, config)
    viewer.person = person
    gaps = person.gaps(config.seed)
    at = person.start
    impressions: list[Impression] = []
    cursor: str | None = None
    skips, pages, stop = 0, 0, "pages"
    for page_no in range(1, config.pages + 1):
        served = feed.page(person.user_id, cursor, config.page_size, at)
        if not served.items:
            stop = _ended(served)
            break
        pages += 1
        watched = []
        stopped = False
        for position, item_id in enumerate(served.items):
            item, repeat, watch_ms, acts = viewer.react(item_id)
            impressions.append(Impression(page_no, position, item_id, item, repeat, watch_ms,
                                          acts))
            watched.append((item_id, at, watch_ms, acts))
            at += timedelta(milliseconds=watch_ms,
                            seconds=config.gap_s + float(gaps.exponential(1.0)))
            skips = skips + 1 if acts[ROW["skip"]] else 0
            if len(impressions) >= person.wants:
                stop, stopped = "session_length", True
            elif config.max_skip_run and skips >= config.max_skip_run:
                stop, stopped = "skip_run", True
            if stopped:
                break
        events = page_events(event_prefix, person.user_id, watched, viewer.seq)
        viewer.seq += len(events)
        feed.post(events, at)
        if stopped:
            break
        if served.cursor is None:
            stop = _ended(served)
            break
        cursor = served.cursor
    return SessionResult(person, stop, pages, tuple(impressions))
