"""The live feed: the real engine behind the real API, in-process or over HTTP.

In-process, the app (`api.app.create_app`) serves a sandbox of the home (`sandbox.py`) inside
its lifespan through `fastapi.testclient.TestClient`, with a simulated clock set to each
person's moment, so "today" is the day the snapshot is for and event times agree with it;
the simulator holds a service token of the sandbox's own. Over HTTP (`url`, with a service
token) the server keeps its own clock, so a page's events are stamped with the wall-clock
time of posting, in order a microsecond apart (the simulated session runs far ahead of the
wall clock, and a time ahead of the server's is refused as from the future); `watch_ms`
still says how long each video was watched.

Only `items[].item_id` and `cursor` (and `remaining_today`) are read from a page, so fields
a newer API adds (a `request_id`, each item's `position`) pass through harmlessly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx

from cli.sessions.feed import Served
from cli.sessions.sandbox import sandbox
from reelrank.control.connection import stamp, transaction
from reelrank.control.experiments import list_all, restart, stop
from reelrank.control.tokens import create_token
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["ApiFeed", "SimClock", "live_feed"]

_READY_TIMEOUT_S = 300.0


class SimClock:
    """The in-process app's clock: whatever moment the simulator last set."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


class ApiFeed:
    mode = "live"

    def __init__(self, client: httpx.Client, token: str, clock: SimClock | None) -> None:
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}
        self._clock = clock
        self.wall_clock = clock is None
        self.experiment_results: dict | None = None
        self.experiment_frames: tuple | None = None  # (experiment, exposures, events)

    def _tick(self, at: datetime) -> None:
        if self._clock is not None:
            self._clock.at = at

    def page(self, user_id: object, cursor: str | None, limit: int, at: datetime) -> Served:
        self._tick(at)
        params: dict[str, object] = {"user_id": str(user_id), "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = _ok(self._client.get("/v1/feed", params=params, headers=self._headers),
                   f"GET /v1/feed for {user_id}")
        return Served([item["item_id"] for item in body["items"]], body.get("cursor"),
                      body.get("remaining_today"))

    def post(self, events: list[dict[str, object]], at: datetime) -> None:
        if not events:
            return
        self._tick(at)
        if self.wall_clock:
            events = _stamped_now(events)
        _ok(self._client.post("/v1/events", json={"events": events}, headers=self._headers),
            f"POST /v1/events ({len(events)} events)")


def _stamped_now(events: list[dict[str, object]]) -> list[dict[str, object]]:
    """The events, in order, ending now, a microsecond apart: a server on its own clock
    refuses times ahead of it, and a simulated session runs far ahead of the wall clock."""
    first = datetime.now(UTC) - timedelta(microseconds=len(events))
    return [{**e, "ts": (first + timedelta(microseconds=n)).isoformat()}
            for n, e in enumerate(events)]


def _ok(response: httpx.Response, what: str) -> dict:
    if response.status_code != 200:
        raise ReelrankError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while True:
        response = client.get("/readyz")
        if response.status_code == 200:
            return
        if time.monotonic() > deadline:
            raise ReelrankError(f"the API did not become ready in {_READY_TIMEOUT_S:.0f} s: "
                                f"{response.text[:300]}")
        time.sleep(0.2)


@contextmanager
def live_feed(home: DataHome, start: datetime, *, url: str | None = None,
              token: str | None = None, experiment: str | None = None) -> Iterator[ApiFeed]:
    """The API over a sandbox of `home` in this process, or the server at `url`.
    `experiment`: once the feed is closed, its results are on `feed.experiment_results`
    (in the sandbox, the experiment is made to run from `start` on, and the home's other
    experiments not at all: the simulated clock is not the wall clock)."""
    from reelrank.experiment_results import experiment_frames, results_of

    if url is not None:
        if not token:
            raise ReelrankError("--url needs a service token (--token, or REELRANK_TOKEN); "
                                "`reelrank tokens create --service NAME` makes one")
        with httpx.Client(base_url=url, timeout=60.0) as client:
            _wait_ready(client)
            feed = ApiFeed(client, token, None)
            yield feed
        if experiment is not None:
            time.sleep(1.0)  # the server's history writer flushes within history_flush_ms
            feed.experiment_frames = experiment_frames(home, experiment)
            feed.experiment_results = results_of(home, experiment)
        return
    # Imported here: the app pulls in the whole serving stack, which the static mode and
    # `--help` do not need.
    from fastapi.testclient import TestClient

    from api.app import create_app

    with sandbox(home) as scratch:
        control = scratch.control()
        try:
            secret = create_token(control, "service", "session-simulator",
                                  now=datetime.now(UTC), label="reelrank simulate sessions")
            if experiment is not None:
                with transaction(control):  # this experiment alone, from the first session
                    restart(control, experiment, stamp(start - timedelta(hours=1)))
                    for other in list_all(control):
                        if other.name != experiment:
                            stop(control, other.name, start - timedelta(hours=2))
        finally:
            control.close()
        clock = SimClock(start)
        with TestClient(create_app(scratch, clock=clock)) as client:
            _wait_ready(client)
            feed = ApiFeed(client, secret, clock)
            yield feed
        if experiment is not None:  # the app has stopped: its history writer has flushed
            feed.experiment_frames = experiment_frames(scratch, experiment)
            feed.experiment_results = results_of(scratch, experiment)
