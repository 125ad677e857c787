"""Strict input types: `true` is not a number for a limit, a count or a watch time, in a
query or a body (422 naming the field), and an event posted older than
`api_event_max_age_days` is refused with the reason. Real server, real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import polars as pl
import pytest

from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


@pytest.fixture(scope="module")
def home(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> DataHome:
    return copy_home(scored_home, tmp_path_factory.mktemp("api-strict") / "home")


@pytest.fixture(scope="module")
def service(home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    with Server(home, tmp_path_factory.mktemp("api-strict-log") / "server.log") as server:
        yield server.client(token(home, "service", "app"))


@pytest.fixture(scope="module")
def people(home: DataHome) -> dict[str, object]:
    latest = home.dir("snapshots") / "latest"
    control = home.control()
    (child,) = control.execute("SELECT child_id FROM guardians ORDER BY 1 LIMIT 1").fetchone()
    control.close()
    return {"user": pl.read_parquet(latest / "users.parquet")["user_id"][0],
            "item": pl.read_parquet(latest / "items.parquet")["item_id"][0], "child": child}


def _event(people: dict, **change: object) -> dict[str, object]:
    return {"event_id": f"strict-{sorted(change)}", "user_id": people["user"],
            "item_id": people["item"], "event_type": "complete",
            "ts": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(), **change}


@pytest.mark.parametrize(("method", "path", "body", "loc"), [
    ("GET", "/v1/feed?limit=true", None, ["query", "limit"]),
    ("POST", "/v1/events", {"events": [{"watch_ms": True}]}, ["body", "events", 0, "watch_ms"]),
    ("PATCH", "/v1/guardian/children/{child}", {"scroll_limit": True}, ["body", "scroll_limit"]),
    ("PUT", "/v1/guardian/children/{child}/override", {"limit": True}, ["body", "limit"]),
    ("POST", "/v1/users", {"user_id": "u-strict", "birth_year": True}, ["body", "birth_year"]),
])
def test_true_is_not_an_integer(service: httpx.Client, people: dict, method: str, path: str,
                                body: dict | None, loc: list) -> None:
    if body is not None and "events" in body:
        body = {"events": [_event(people, **body["events"][0])]}
    url = path.format(**people) + ("&" if "?" in path else "?") + f"user_id={people['user']}"
    got = service.request(method, url, json=body)
    assert got.status_code == 422, got.text
    assert any(e["loc"] == loc for e in got.json()["errors"]), got.json()
    assert loc[-1] in got.json()["detail"]


def test_an_old_event_is_refused_with_the_reason(home: DataHome, service: httpx.Client,
                                                 people: dict) -> None:
    days = home.settings.api_event_max_age_days
    old = _event(people, ts=(datetime.now(UTC) - timedelta(days=days, hours=1)).isoformat())
    got = service.post("/v1/events", json={"events": [_event(people), old]})
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["loc"] == ["body", "events", 1, "ts"]
    assert f"more than {days:g} days old" in got.json()["detail"]
    recent = _event(people, ts=(datetime.now(UTC) - timedelta(days=days - 1)).isoformat())
    assert service.post("/v1/events", json={"events": [recent]}).status_code == 200
