"""Play the same persons on each feed asked for, and summarise each run.

"Today" is the day the serving snapshot is for (its `as_of`): the day after the last day the
nightly run saw. Persons play one after another in the order their sessions open that day,
so the in-process app's clock only moves forward within a session and mostly across them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from cli.sessions.config import MODES, SessionConfig
from cli.sessions.feed import Feed
from cli.sessions.live import live_feed
from cli.sessions.metrics import impressions_frame, persons_frame, summarise
from cli.sessions.persons import Person, choose_persons
from cli.sessions.player import SessionResult, Viewer, play
from cli.sessions.static import StaticFeed
from cli.sessions.truth import TruthWorld, find_world
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["ModeRun", "SessionRun", "simulate_sessions"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class ModeRun:
    mode: str
    results: tuple[SessionResult, ...]
    impressions: pl.DataFrame       # `metrics.impressions_frame`
    persons: pl.DataFrame           # `metrics.persons_frame`
    summary: dict[str, object]      # this mode's block of the JSON
    experiment: tuple | None = None  # (experiment, exposures, events) under --experiment


@dataclass(frozen=True)
class SessionRun:
    world: TruthWorld
    today: date
    persons: tuple[Person, ...]
    modes: dict[str, ModeRun]

    def as_json(self) -> dict[str, object]:
        """`{"live": {...}, "static": {...}}`, with the modes that ran."""
        return {mode: run.summary for mode, run in self.modes.items()}


def _snapshot(home: DataHome) -> tuple[str, date]:
    manifest = home.dir("snapshots") / "latest" / "manifest.json"
    if not manifest.is_file():
        raise ReelrankError(f"{home.root} has no published serving snapshot; run "
                            f"`reelrank run --home {home.root}` first")
    body = json.loads(manifest.read_text())
    return (home.dir("snapshots") / "latest").resolve().name, date.fromisoformat(body["as_of"])


def _play_all(feed: Feed, persons: Sequence[Person], world: TruthWorld,
              config: SessionConfig, say: Say, *, shared_server: bool = False
              ) -> list[SessionResult]:
    results = []
    # Event ids repeat from run to run of a seed: harmless on a fresh sandbox, but a server
    # that outlives the run would take a second run's events as duplicates and drop them.
    prefix = f"sim{config.seed}{feed.mode[0]}" + (f"-{uuid.uuid4().hex[:8]}"
                                                  if shared_server else "")
    viewers: dict[int, Viewer] = {}
    for n, person in enumerate(persons, start=1):
        viewer = viewers.setdefault(person.index, Viewer(person, world, config))
        results.append(play(person, feed, world, config, prefix, viewer))
        if n % 50 == 0 or n == len(persons):
            say(f"{feed.mode}: {n}/{len(persons)} sessions played")
    return results


def simulate_sessions(home: DataHome, config: SessionConfig, *,
                      modes: Sequence[str] = ("live",), url: str | None = None,
                      token: str | None = None, world: Path | None = None,
                      progress: Say | None = None, experiment: str | None = None
                      ) -> SessionRun:
    """Choose today's persons from the home's synthetic world and play them on each of
    `modes` ("live": the API; "static": last night's lists), the same persons and seeds.
    `experiment`: the live feed runs that experiment (`reelrank experiments create`), and
    the live block's setup carries its results."""
    say = progress or (lambda _line: None)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ReelrankError(f"modes must be some of {MODES}, got {list(modes)}")
    truth = TruthWorld.load(find_world(home.dir("worlds"), world))
    snapshot, today = _snapshot(home)
    persons = sorted(choose_persons(truth, config, today), key=lambda p: (p.start, p.index))
    if not persons:
        raise ReelrankError(f"{truth.directory} has no users to simulate")
    people = {p.index: p.cohort for p in persons}
    new = sum(cohort == "new" for cohort in people.values())
    how_often = ("as often as the world draws" if config.sessions is None
                 else f"{config.sessions} time(s)")
    say(f"{len(people) - new} returning and {new} new users of {truth.directory.name} "
        f"open the app {how_often} ({len(persons)} sessions) and play up to "
        f"{config.pages} pages of {config.page_size} a session on {today} "
        f"(snapshot {snapshot})")
    if today != truth.end:
        say(f"note: the snapshot is as of {today}, the world's log ends the day before "
            f"{truth.end}: today's users are played against a snapshot of another moment")
    if new < config.new_users:
        say(f"only {new} world users have no history; {config.new_users} new users asked for")
    setup = {"seed": config.seed, "users": len(people) - new, "new_users": new,
             "sessions": len(persons),
             "sessions_per_day": "world" if config.sessions is None else config.sessions,
             "new_users_asked": config.new_users, "pages": config.pages,
             "page_size": config.page_size, "max_skip_run": config.max_skip_run,
             "today": today.isoformat(), "snapshot": snapshot, "world": truth.directory.name}
    runs: dict[str, ModeRun] = {}
    for mode in modes:
        frames = None
        if mode == "live":
            with live_feed(home, persons[0].start, url=url, token=token,
                           experiment=experiment) as feed:
                results = _play_all(feed, persons, truth, config, say,
                                    shared_server=url is not None)
            extra = {"transport": url or "in-process (sandbox of the home)"}
            if experiment is not None:
                extra["experiment"] = feed.experiment_results
                frames = feed.experiment_frames
        else:
            feed = StaticFeed(home)
            results = _play_all(feed, persons, truth, config, say)
            extra = {"ranked_without_list": len(feed.ranked_online)}
        summary = {"mode": mode, "setup": setup | extra, **summarise(results, truth,
                                                                    config.pages)}
        runs[mode] = ModeRun(mode, tuple(results), impressions_frame(results, truth),
                             persons_frame(results), summary, frames)
    return SessionRun(truth, today, tuple(persons), runs)
