"""Snapshot hot-swap: a newly published snapshot is picked up without dropping a request; a
corrupt or half-written one is refused and the old one keeps serving."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from ranking.publish import publish_snapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, clone_snapshot, copy_home, token


def _with_feeds(home: DataHome, snapshot: Path) -> None:
    """Give a cloned snapshot the live one's precomputed pages, under its own name."""
    source = (home.dir("feeds") / "latest").resolve()
    target = home.dir("feeds") / snapshot.name
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, "snapshot": snapshot.name}))


def _flip(home: DataHome, directory: Path) -> None:
    """Point `snapshots/latest` at `directory` whatever it holds (a broken publisher)."""
    link = home.dir("snapshots") / "latest"
    tmp = home.dir("snapshots") / ".latest-test"
    tmp.symlink_to(directory.name, target_is_directory=True)
    os.replace(tmp, link)


class Load:
    """GET /v1/feed in a loop on a thread, recording each answer's status and snapshot."""

    def __init__(self, server: Server, bearer: str, user: object) -> None:
        self.seen: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(server, bearer, user))
        self._thread.start()

    def _run(self, server: Server, bearer: str, user: object) -> None:
        with server.client(bearer) as client:
            while not self._stop.is_set():
                got = client.get("/v1/feed", params={"user_id": user, "limit": 10})
                self.seen.append((got.status_code, got.headers.get("X-Reelrank-Snapshot")))

    def wait_for(self, snapshot: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.seen and self.seen[-1][1] == snapshot:
                return
            time.sleep(0.05)
        raise AssertionError(f"never served {snapshot}: {Counter(s for _, s in self.seen)}")

    def stop(self) -> Counter:
        self._stop.set()
        self._thread.join(timeout=60)
        return Counter(status for status, _ in self.seen)


def test_new_snapshots_swap_in_and_broken_ones_are_refused(
        scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("api-swap")
    home = copy_home(scored_home, root / "home")
    first = (home.dir("snapshots") / "latest").resolve().name
    scored = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")["user_id"].unique(
        maintain_order=True)
    user, fresh = scored[0], scored[1]  # `user` scrolls on; `fresh` gets a first page
    with Server(home, root / "server.log") as server:
        service = token(home, "service", "app")
        admin = server.client(service)
        load = Load(server, service, user)
        try:
            load.wait_for(first)
            nxt = clone_snapshot(home, "2026-01-10-next")
            final = clone_snapshot(home, "2026-01-10-final")
            _with_feeds(home, nxt)
            publish_snapshot(home.dir("snapshots"), nxt)
            load.wait_for(nxt.name)  # picked up by the watcher, no reload call
            page = admin.get("/v1/feed", params={"user_id": fresh})
            assert page.headers["X-Reelrank-Feed"] == "precomputed"

            corrupt = clone_snapshot(home, "2026-01-10-corrupt")
            with (corrupt / "items.parquet").open("ab") as handle:
                handle.write(b"\0garbage")
            publish_snapshot(home.dir("snapshots"), corrupt)
            half = home.dir("snapshots") / "2026-01-10-half"
            shutil.copytree(nxt, half, ignore=shutil.ignore_patterns("manifest.json", "*.faiss"))
            refused = admin.post("/v1/admin/reload")
            assert refused.status_code == 409
            assert "corrupt or half-written" in refused.json()["detail"]
            _flip(home, half)
            time.sleep(1.0)  # several polls
            refused = admin.post("/v1/admin/reload")
            assert refused.status_code == 409 and "not a snapshot" in refused.json()["detail"]
            assert admin.get("/readyz").json()["snapshot"] == nxt.name
            assert load.seen[-1][1] == nxt.name

            publish_snapshot(home.dir("snapshots"), final)
            assert admin.post("/v1/admin/reload").json() == {"snapshot": final.name,
                                                              "changed": True}
            load.wait_for(final.name)
        finally:
            statuses = load.stop()
        metrics = admin.get("/metrics").text
    assert statuses == Counter({200: sum(statuses.values())}), statuses
    assert sum(statuses.values()) > 20
    assert 'reelrank_snapshot_loads_total{outcome="refused"}' in metrics
    assert 'reelrank_snapshot_loads_total{outcome="loaded"} 3.0' in metrics
