"""Overload: a request that waited past its budget is served the cheap way (the batch's page,
or a cached unpersonalized one; the policy applied live), and what cannot be served at all is
shed at once with 503 and Retry-After rather than queued."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl

from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


def _adult_with_page(home: DataHome) -> object:
    control = home.control()
    kids = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    control.close()
    scored = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")["user_id"]
    return next(u for u in scored.unique(maintain_order=True) if u not in kids)


def test_a_request_past_its_budget_gets_a_degraded_page_under_the_live_policy(
        scored_home: DataHome, tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    user = _adult_with_page(home)
    with Server(home, tmp_path / "server.log", REELRANK_API_DEGRADE_AFTER_MS="0") as server:
        client = server.client(token(home, "user", user))
        first = client.get("/v1/feed", params={"limit": 10})
        assert first.status_code == 200 and first.headers["X-Reelrank-Feed"] == "degraded"
        creator_of = dict(pl.read_parquet(home.dir("snapshots") / "latest" / "items.parquet")
                          .select("item_id", "creator_id").iter_rows())
        blocked = creator_of[first.json()["items"][0]["item_id"]]
        assert client.post("/v1/me/blocks", json={"blocked_id": blocked}).status_code in (200,
                                                                                        201)
        second = client.get("/v1/feed", params={"limit": 10}).json()
        assert second["items"]
        assert blocked not in {creator_of.get(i["item_id"]) for i in second["items"]}
        assert not {i["item_id"] for i in first.json()["items"]} & {
            i["item_id"] for i in second["items"]}
        metrics = client.get("/metrics").text
    assert 'reelrank_feed_pages_total{kind="degraded"}' in metrics


def test_what_cannot_be_served_is_shed_with_retry_after(scored_home: DataHome,
                                                        tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    user = _adult_with_page(home)
    with Server(home, tmp_path / "server.log", REELRANK_API_MAX_QUEUED="1",
                REELRANK_API_THREADS="1") as server:
        bearer = token(home, "user", user)
        answers: list[tuple[int, str | None]] = []

        def ask() -> None:
            with server.client(bearer) as client:
                got = client.get("/v1/feed", params={"limit": 50})
                answers.append((got.status_code, got.headers.get("Retry-After")))

        threads = [threading.Thread(target=ask) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    codes = [c for c, _ in answers]
    assert len(codes) == 24 and set(codes) <= {200, 503} and 503 in codes and 200 in codes
    assert all(retry == "1" for code, retry in answers if code == 503)
