"""The closed-loop session simulator (`reelrank simulate sessions`): the JSON contract, the
same run for a seed, no video watched twice in a day, a static list that ends, a day of
several sessions, choices that follow the world's ground truth, and a home left as it
was."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cli.sessions.config import SessionConfig
from cli.sessions.events import EVENT_TYPES, ROW
from cli.sessions.feed import Served
from cli.sessions.metrics import impressions_frame
from cli.sessions.persons import _SECONDS_PER_IMPRESSION, SESSION_GAP_S, Person, choose_persons
from cli.sessions.player import Viewer, play
from cli.sessions.simulate import simulate_sessions
from cli.sessions.static import StaticFeed
from cli.sessions.truth import TruthWorld, find_world
from reelrank.contracts import EVENT_TYPES as CONTRACT_EVENT_TYPES
from reelrank.home import DataHome
from reelrank.simulate import world_relevance

REELRANK = str(Path(sys.executable).parent / "reelrank")
PAGES = 3
BY_PAGE = ("engaged_rate_by_page", "likes_per_impression_by_page",
           "skips_per_impression_by_page", "oracle_relevance_by_page", "impressions_by_page",
           "persons_by_page")


@pytest.fixture(scope="module")
def world(scored_home: DataHome) -> TruthWorld:
    return TruthWorld.load(find_world(scored_home.dir("worlds"), None))


@pytest.fixture
def reports_restored(scored_home: DataHome) -> Iterator[Path]:
    """The shared home's reports directory, put back as it was afterwards."""
    reports = scored_home.dir("reports")
    before = {p: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    yield reports
    for path in reports.iterdir():
        if path.is_file() and path not in before:
            path.unlink()
    for path, data in before.items():
        path.write_bytes(data)


def _inbox_rows(home: DataHome) -> int:
    control = home.control()
    try:
        return control.execute("SELECT count(*) FROM event_inbox").fetchone()[0]
    finally:
        control.close()


class _Repeating:
    """A feed that serves the same page on every request, forever."""

    mode = "live"

    def __init__(self, items: list[object]) -> None:
        self.items = items
        self.posted: list[dict[str, object]] = []

    def page(self, user_id: object, cursor: str | None, limit: int, at: datetime) -> Served:
        return Served(list(self.items[:limit]), "again")

    def post(self, events: list[dict[str, object]], at: datetime) -> None:
        self.posted += events


class _Random:
    """A feed of uniformly random world items (no ranking at all)."""

    mode = "static"

    def __init__(self, items: list[object], seed: int) -> None:
        self.items, self.rng = items, np.random.default_rng(seed)

    def page(self, user_id: object, cursor: str | None, limit: int, at: datetime) -> Served:
        return Served(list(self.rng.choice(np.array(self.items, dtype=object), limit,
                                           replace=False)), "more")

    def post(self, events: list[dict[str, object]], at: datetime) -> None:
        return None


def _person(world: TruthWorld, user: int, wants: int) -> Person:
    return Person(world.user_ids[user], user, "returning", wants,
                  datetime(2026, 1, 10, 20, tzinfo=UTC))


def test_the_command_prints_one_json_object_and_renders_the_report(
        scored_home: DataHome, reports_restored: Path) -> None:
    inbox = _inbox_rows(scored_home)
    done = subprocess.run(
        [REELRANK, "simulate", "sessions", "--home", str(scored_home.root), "--users", "6",
         "--new-users", "3", "--pages", str(PAGES), "--seed", "4", "--sessions", "2",
         "--compare", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if k != "REELRANK_HOME"})
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)            # stdout is exactly one JSON object
    assert set(payload) == {"live", "static"}
    for block in payload.values():
        for key in BY_PAGE:
            assert len(block[key]) == PAGES, key
        assert isinstance(block["repeats"], int)
        assert block["persons"] == 9 and block["sessions"] == 18
        assert sum(block["stops"].values()) == 18 and block["sessions_by_number"] == [9, 9]
        assert block["day"]["sessions"]["mean"] == 2.0
        assert block["cohorts"]["returning"]["persons"] == 6
        assert block["cohorts"]["new"]["persons"] == 3
        assert block["persons_by_page"][0] == 9
        assert block["impressions"] == sum(block["impressions_by_page"])
        assert len(block["engaged_rate_by_session"]) == 2
    # A second session starts without a cursor: the nightly list starts over, the live
    # feed serves what this person has not seen today.
    assert payload["live"]["repeats"] == 0 and payload["static"]["repeats"] > 0
    saved = sorted(reports_restored.glob("sessions-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text()) == payload
    latest = (reports_restored / "latest.html").read_text()
    assert latest.count('<section id="sessions">') == 1 and 'id="sessions-pages"' in latest
    assert latest.count("data:image/png;base64,") >= 2
    assert _inbox_rows(scored_home) == inbox     # the simulation played on a sandbox


def test_a_run_is_the_same_for_a_seed_and_another_seed_differs(scored_home: DataHome) -> None:
    config = SessionConfig(users=8, new_users=2, pages=PAGES, page_size=10, seed=11)
    first = simulate_sessions(scored_home, config)
    again = simulate_sessions(scored_home, config)
    assert first.as_json() == again.as_json()
    assert first.modes["live"].impressions.equals(again.modes["live"].impressions)
    other = simulate_sessions(scored_home, SessionConfig(users=8, new_users=2, pages=PAGES,
                                                         page_size=10, seed=12))
    assert [p.user_id for p in other.persons] != [p.user_id for p in first.persons]
    new = sorted({p.index for p in first.persons if p.cohort == "new"})
    assert len(new) == 2 and not first.world.active[new].any()   # no history before today
    assert first.as_json()["live"]["repeats"] == 0


def test_a_person_never_watches_the_same_video_twice_in_a_day(world: TruthWorld) -> None:
    items = list(world.item_index)[:5]
    feed = _Repeating(items)
    config = SessionConfig(users=1, pages=4, page_size=5, max_skip_run=0)
    result = play(_person(world, 3, wants=1_000), feed, world, config, "t")
    assert result.stop == "pages" and len(result.impressions) == 20
    first, later = result.impressions[:5], result.impressions[5:]
    assert not any(i.repeat for i in first) and all(i.repeat for i in later)
    for i in later:   # flicked past: an impression and a skip, nothing else
        assert i.watch_ms == config.repeat_watch_ms
        assert np.flatnonzero(i.acts).tolist() == [ROW["impression"], ROW["skip"]]
    watched = [e for e in feed.posted if e["event_type"] == "impression"
               and e["watch_ms"] > config.repeat_watch_ms]
    assert len({e["item_id"] for e in watched}) == len(watched)
    frame = impressions_frame([result], world)
    assert frame["repeat"].sum() == 15 and frame.filter("repeat")["oracle"].max() == 0.0
    assert len({e["event_id"] for e in feed.posted}) == len(feed.posted)
    assert {e["event_type"] for e in feed.posted} <= set(CONTRACT_EVENT_TYPES)


def test_static_mode_ends_when_the_precomputed_list_ends(scored_home: DataHome,
                                                         world: TruthWorld) -> None:
    feed = StaticFeed(scored_home)
    feeds = pl.read_parquet(scored_home.dir("feeds") / "latest" / "part-*.parquet")
    user = feeds["user_id"][0]
    expected = feeds.filter(pl.col("user_id") == user).sort("position")["item_id"].to_list()
    config = SessionConfig(users=1, pages=100, page_size=7, max_skip_run=0)
    result = play(_person(world, world.user_index[user], wants=10_000), feed, world, config,
                  "t")
    assert result.stop == "feed_end"
    assert [i.item_id for i in result.impressions] == expected
    assert result.pages == math.ceil(len(expected) / config.page_size)
    assert feed.page(user, None, 7, datetime.now(UTC)).items == expected[:7]  # never reacts


def test_a_day_holds_the_world_s_number_of_sessions_one_after_another(
        world: TruthWorld) -> None:
    today = datetime(2026, 1, 11, tzinfo=UTC).date()
    drawn = choose_persons(world, SessionConfig(users=200, seed=3), today)
    by_person: dict[int, list[Person]] = {}
    for p in drawn:
        by_person.setdefault(p.index, []).append(p)
    counts = np.array([len(v) for v in by_person.values()])
    assert counts.min() >= 1 and counts.max() > 1 and 1.1 < counts.mean() < 3.0
    # The more active open the app more often, as the world's daily rate says.
    activity = world.activity[list(by_person)]
    assert counts[activity > np.median(activity)].mean() > counts[activity <= np.median(
        activity)].mean()
    for sessions in by_person.values():
        assert [p.session for p in sessions] == list(range(1, len(sessions) + 1))
        for before, after in itertools.pairwise(sessions):
            ends = before.start.timestamp() + before.wants * _SECONDS_PER_IMPRESSION
            assert after.start.timestamp() >= ends + SESSION_GAP_S
        assert all(p.start.date() == today for p in sessions)
    once = choose_persons(world, SessionConfig(users=200, seed=3, sessions=1), today)
    assert len(once) == 200 and {p.index for p in once} == set(by_person)
    # A person the world draws one opening for has the same session either way.
    single = [p for p in once if len(by_person[p.index]) == 1]
    assert len(single) > 50
    assert all((by_person[p.index][0].wants, by_person[p.index][0].start) == (p.wants, p.start)
               for p in single)
    thrice = choose_persons(world, SessionConfig(users=50, seed=3, sessions=3), today)
    assert len(thrice) <= 150 and len(thrice) > 140      # a late opener's third may not fit


def test_a_later_session_of_the_day_remembers_what_was_seen(world: TruthWorld) -> None:
    items = list(world.item_index)[:4]
    feed = _Repeating(items)
    config = SessionConfig(users=1, pages=1, page_size=4, max_skip_run=0)
    first = _person(world, 5, wants=4)
    viewer = Viewer(first, world, config)
    one = play(first, feed, world, config, "t", viewer)
    later = Person(first.user_id, first.index, first.cohort, 4,
                   first.start.replace(hour=22), session=2)
    two = play(later, feed, world, config, "t", viewer)
    assert not any(i.repeat for i in one.impressions)
    assert all(i.repeat for i in two.impressions)        # the same page again: flicked past
    assert len({e["event_id"] for e in feed.posted}) == len(feed.posted)


def test_choices_follow_the_truth_model(world: TruthWorld) -> None:
    """On a random feed, what people do matches the oracle's expectation, and they engage
    more with what it rates higher."""
    feed = _Random(list(world.item_index), seed=1)
    config = SessionConfig(users=1, pages=3, page_size=50, max_skip_run=0, seed=2)
    results = [play(_person(world, u, wants=150), feed, world, config, "t")
               for u in range(0, len(world.user_ids), 12)]
    frame = impressions_frame(results, world).filter(~pl.col("repeat"))
    assert frame.height > 4_000
    oracle = world_relevance(world.directory, frame.select("user_id", "item_id"))
    np.testing.assert_allclose(frame["oracle"].to_numpy(),        # the world's own oracle
                               oracle["expected_relevance"].to_numpy(), rtol=1e-9)
    grade = (pl.when(pl.col("share") | pl.col("remix")).then(4)
             .when(pl.col("like") | pl.col("comment")).then(3)
             .when(pl.col("complete")).then(2).when(~pl.col("skip")).then(1).otherwise(0))
    drawn = frame.select(grade.alias("g"))["g"].mean()
    assert drawn == pytest.approx(frame["oracle"].mean(), abs=0.06)
    low, high = np.quantile(frame["oracle"].to_numpy(), [1 / 3, 2 / 3])
    tier = (pl.when(pl.col("oracle") < low).then(pl.lit("low"))
            .when(pl.col("oracle") < high).then(pl.lit("mid")).otherwise(pl.lit("high")))
    tiers = frame.group_by(tier.alias("tier")).agg(pl.col("engaged").mean())
    rates = dict(zip(tiers["tier"], tiers["engaged"], strict=True))
    assert rates["low"] < rates["mid"] < rates["high"]
    assert rates["high"] - rates["low"] > 0.2


def test_event_types_are_the_contract_s() -> None:
    assert tuple(EVENT_TYPES) == tuple(CONTRACT_EVENT_TYPES)


def test_sessions_is_bounded() -> None:
    for bad in (0, 49, True, 2.0):
        with pytest.raises(ValueError, match="sessions must be"):
            SessionConfig(sessions=bad)


def test_bad_options_are_one_clear_line(scored_home: DataHome) -> None:
    done = subprocess.run([REELRANK, "simulate", "sessions", "--home", str(scored_home.root),
                           "--users", "0", "--new-users", "0", "--static"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("reelrank simulate sessions: error:")
