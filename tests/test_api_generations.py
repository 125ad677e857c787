"""Generations through HTTP: submit, consent refusal, status, and same-day reach: a real
worker process renders the clip, and the creator's friend gets it on their next request."""

from __future__ import annotations

import subprocess

import pytest

from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome
from tests.test_api_support import REELRANK, Server, copy_home, token


@pytest.fixture(scope="module")
def served(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api-generations")
    home = copy_home(scored_home, root / "home")
    with Server(home, root / "server.log") as server:
        yield home, server


def _friends(home: DataHome) -> tuple[object, object]:
    """A personalized viewer and one of their friends."""
    snap = ServingSnapshot.load(home.dir("snapshots") / "latest")
    control = home.control()
    supervised = {r[0] for r in control.execute("SELECT child_id FROM guardians").fetchall()}
    control.close()
    for viewer in snap.active_users().to_list():
        friends = snap.friends.values[snap.friends.of(snap.user_row[viewer])]
        if viewer not in supervised and len(friends):
            return viewer, snap.user_ids[int(friends[0])]
    raise AssertionError("the test world has no friends")


def test_a_friends_generation_is_in_the_next_feed_request(served) -> None:
    home, server = served
    viewer, maker = _friends(home)
    with server.client(token(home, "user", maker)) as client:
        submitted = client.post("/v1/generations", json={"prompt": "a skateboarding cat"})
        assert submitted.status_code == 202, submitted.text
        body = submitted.json()
        assert body["status"] == "queued" and body["charged"] == 0 and body["reason"]
        request_id = body["request_id"]
        assert client.get(f"/v1/generations/{request_id}").json()["status"] == "queued"
    worker = subprocess.run([REELRANK, "worker", "--home", str(home.root), "--once",
                             "--embedder", "hashing"], check=False, capture_output=True,
                            text=True,
                            timeout=120)
    assert worker.returncode == 0, worker.stderr
    with server.client(token(home, "user", maker)) as client:
        done = client.get(f"/v1/generations/{request_id}").json()
    assert done["status"] == "done" and done["item_id"], done
    assert (home.root / "media" / request_id).is_dir()
    with server.client(token(home, "user", viewer)) as client:
        page = client.get("/v1/feed", params={"limit": 20})
    assert page.status_code == 200
    shown = {i["item_id"]: i for i in page.json()["items"]}
    assert done["item_id"] in shown, list(shown)
    assert shown[done["item_id"]]["reason"] == "from people you follow"


def test_a_cameo_without_consent_is_refused_and_others_requests_are_private(served) -> None:
    home, server = served
    viewer, maker = _friends(home)
    control = home.control()
    granted = {r[0] for r in control.execute(
        "SELECT owner_id FROM cameo_grants WHERE grantee_id = ? AND revoked_at IS NULL",
        [maker]).fetchall()}
    control.close()
    stranger = next(u for u in ServingSnapshot.load(home.dir("snapshots") / "latest")
                    .user_ids.to_list() if u not in granted and u != maker)
    with server.client(token(home, "user", maker)) as client:
        refused = client.post("/v1/generations",
                              json={"prompt": "us two", "cameo_user_ids": [stranger]})
        assert refused.status_code == 202 and refused.json()["status"] == "refused"
        assert str(stranger) in refused.json()["reason"]
        mine = client.post("/v1/generations", json={"prompt": "just me",
                                                    "cameo_user_ids": [maker]}).json()
        assert mine["status"] == "queued"
        unknown = client.post("/v1/generations", json={"prompt": "x", "colour": "red"})
        assert unknown.status_code == 422 and "colour" in unknown.text
    with server.client(token(home, "user", viewer)) as client:
        other = client.get(f"/v1/generations/{mine['request_id']}")
    assert other.status_code == 404
