"""Generations through HTTP: submit, consent refusal, status, and same-day reach: a real
worker process renders the clip, and the creator's friend gets it on their next request.
Nobody and nothing unknown to the home goes in a generation; a remix carries the cameos of
what it remixes."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import polars as pl
import pytest

from ranking.snapshot.reader import ServingSnapshot
from reelrank.control.grants import grant
from reelrank.control.items import generated_item
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


def _worker(home: DataHome) -> None:
    done = subprocess.run([REELRANK, "worker", "--home", str(home.root), "--once",
                           "--embedder", "hashing"], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_generations_for_people_or_items_that_do_not_exist_are_refused(served) -> None:
    home, server = served
    _viewer, maker = _friends(home)
    control = home.control()
    # A grant on record from someone the home does not know consents to nothing.
    grant(control, "u9999998", maker, now=datetime.now(UTC))
    control.close()
    service = server.client(token(home, "service", "app"))

    def submit(user: object, **body: object) -> dict:
        got = service.post("/v1/generations", params={"user_id": user},
                           json={"prompt": "a kite over the sea", **body})
        assert got.status_code == 202, got.text
        return got.json()

    answers = [submit("u9999999"), submit(maker, cameo_user_ids=["u9999998"]),
               submit(maker, remix_of="v9999999")]
    assert [(a["status"], a["charged"]) for a in answers] == [("refused", 0)] * 3
    assert [a["reason"] for a in answers] == [
        "'u9999999' is not a user of this home",
        f"no live cameo consent from 'u9999998' to {maker!r}",
        "remix_of 'v9999999' is not an item of this home"]


def test_a_remix_needs_consent_from_the_people_in_its_source_and_shows_them(served) -> None:
    home, server = served
    viewer, maker = _friends(home)
    control = home.control()
    granted = {o for (o,) in control.execute(
        "SELECT owner_id FROM cameo_grants WHERE grantee_id = ? AND revoked_at IS NULL",
        [maker])}
    supervised = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    control.close()
    items = pl.read_parquet(home.dir("snapshots") / "latest" / "items.parquet")
    source, people = next(
        (i, [p for p in cameos if p != maker]) for i, creator, cameos, label in
        items.select("item_id", "creator_id", "cameo_user_ids", "safety_label").iter_rows()
        if label == "safe" and creator != maker and cameos and viewer not in cameos
        and not set(cameos) & (granted | supervised | {maker}))
    maker_client = server.client(token(home, "user", maker))
    refused = maker_client.post("/v1/generations",
                                json={"prompt": "my take on it", "remix_of": source}).json()
    assert refused["status"] == "refused"
    assert refused["reason"].endswith(f"(they appear in {source!r}, which this remixes)")
    assert all(repr(p) in refused["reason"] for p in people)
    for person in people:
        assert server.client(token(home, "user", person)).post(
            "/v1/cameos/grants", json={"grantee_id": maker}).status_code == 201
    queued = maker_client.post("/v1/generations",
                               json={"prompt": "my take on it", "remix_of": source}).json()
    assert queued["status"] == "queued", queued
    _worker(home)
    done = maker_client.get(f"/v1/generations/{queued['request_id']}").json()
    assert done["status"] == "done", done
    control = home.control()
    made = generated_item(control, done["item_id"])
    control.close()
    assert made is not None and (made["remix_of"], made["cameo_user_ids"]) == (source, people)
    viewer_client = server.client(token(home, "user", viewer))
    assert done["item_id"] in _ids(viewer_client.get("/v1/feed", params={"limit": 50}))
    # Its people's consent governs the remix like any cameo: one revocation hides it.
    assert server.client(token(home, "user", people[0])).delete(
        f"/v1/cameos/grants/{maker}").status_code == 200
    assert done["item_id"] not in _ids(viewer_client.get("/v1/feed", params={"limit": 50}))


def _ids(response) -> list[object]:
    assert response.status_code == 200, response.text
    return [i["item_id"] for i in response.json()["items"]]
