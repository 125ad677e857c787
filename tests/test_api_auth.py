"""Every endpoint under every kind of caller: no token, a bad or revoked token, the wrong
scope, the right scope acting for someone else, and the right one. Real server, real HTTP."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from reelrank.home import DataHome
from tests.test_api_support import REELRANK, Server, copy_home, token


@dataclass(frozen=True)
class World:
    home: DataHome
    server: Server
    a: str            # two ordinary users
    b: str
    child_x: str      # two supervised children with different guardians
    guardian_x: str
    child_y: str
    guardian_y: str
    tokens: dict[str, str]

    def as_(self, who: str | None) -> httpx.Client:
        return self.server.client(self.tokens[who] if who else None)


@pytest.fixture(scope="module")
def world(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api-auth")
    home = copy_home(scored_home, root / "home")
    control = home.control()
    kids = control.execute("SELECT child_id, guardian_id FROM guardians ORDER BY child_id"
                           ).fetchall()
    supervised = {k for k, _ in kids} | {g for _, g in kids}
    users = [u for (u,) in control.execute("SELECT user_id FROM user_settings ORDER BY user_id")
             if u not in supervised]
    control.close()
    (child_x, guardian_x) = kids[0]
    (child_y, guardian_y) = next(k for k in kids[1:] if k[1] != guardian_x)
    a, b = users[:2]
    tokens = {
        "a": token(home, "user", a), "b": token(home, "user", b),
        "child_x": token(home, "user", child_x),
        "guardian_x": token(home, "guardian", guardian_x),
        "guardian_y": token(home, "guardian", guardian_y),
        "service": token(home, "service", "app-backend"),
    }
    with Server(home, root / "server.log") as server:
        yield World(home, server, a, b, child_x, guardian_x, child_y, guardian_y, tokens)


def _event(n: int, user: str) -> dict[str, object]:
    return {"event_id": f"auth-{user}-{n}", "user_id": user, "item_id": "v0000001",
            "event_type": "impression", "ts": (datetime.now(UTC) - timedelta(minutes=1))
            .isoformat(), "watch_ms": 1200}


def test_probes_and_docs_need_no_token(world: World) -> None:
    client = world.as_(None)
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["precomputed_users"] > 0
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/feed" in spec["paths"] and "HTTPBearer" in spec["components"]["securitySchemes"]
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "reelrank_snapshot_age_seconds" in metrics.text


ENDPOINTS = [
    ("GET", "/v1/feed", None),
    ("POST", "/v1/events", {"events": [_event(0, "u0000001")]}),
    ("GET", "/v1/me/settings", None),
    ("PUT", "/v1/me/settings", {"chat_personalization": True}),
    ("GET", "/v1/me/blocks", None),
    ("POST", "/v1/me/blocks", {"blocked_id": "u0000009"}),
    ("DELETE", "/v1/me/blocks/u0000009", None),
    ("GET", "/v1/guardian/children", None),
    ("GET", "/v1/guardian/children/u0000001", None),
    ("PATCH", "/v1/guardian/children/u0000001", {"dm_policy": "friends"}),
    ("PUT", "/v1/guardian/children/u0000001/override", {"limit": 5}),
    ("DELETE", "/v1/guardian/children/u0000001/override", None),
    ("POST", "/v1/guardian/links", {"guardian_id": "u0000002", "child_id": "u0000003"}),
    ("DELETE", "/v1/guardian/links/u0000003", None),
    ("GET", "/v1/cameos/grants", None),
    ("POST", "/v1/cameos/grants", {"grantee_id": "u0000009"}),
    ("DELETE", "/v1/cameos/grants/u0000009", None),
    ("GET", "/v1/dm/allowed?from=u0000001&to=u0000002", None),
    ("POST", "/v1/admin/reload", None),
    ("PUT", "/v1/admin/items/v0000001/label", {"label": "unsafe"}),
    ("GET", "/v1/admin/items/v0000001/label", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_a_missing_or_bad_token(world: World, method: str, path: str,
                                                       body: object) -> None:
    for headers in ({}, {"Authorization": "Bearer rr_not-a-token"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = world.as_(None).request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["detail"]


def test_a_revoked_token_stops_working_at_once(world: World) -> None:
    fresh = token(world.home, "user", world.a)
    client = world.server.client(fresh)
    assert client.get("/v1/me/settings").status_code == 200
    done = subprocess.run([REELRANK, "tokens", "revoke", "--home", str(world.home.root), fresh],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert client.get("/v1/me/settings").status_code == 401
    again = subprocess.run([REELRANK, "tokens", "revoke", "--home", str(world.home.root), fresh],
                           capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "no live token" in again.stderr


def test_the_cli_prints_only_a_token_and_stores_only_its_hash(world: World) -> None:
    for flag, subject in (("--user", world.b), ("--guardian", world.guardian_x),
                          ("--service", "ops")):
        done = subprocess.run([REELRANK, "tokens", "create", "--home", str(world.home.root),
                               flag, subject], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        printed = done.stdout.strip()
        assert printed.startswith("rr_") and "\n" not in printed
        control = world.home.control()
        stored = control.execute("SELECT token_hash, scope, subject_id FROM api_tokens "
                                 "WHERE subject_id = ? ORDER BY created_at DESC", [subject]
                                 ).fetchone()
        assert printed not in str(control.execute("SELECT * FROM api_tokens").fetchall())
        control.close()
        assert stored[1] == flag.removeprefix("--") and len(stored[0]) == 64
        assert world.server.client(printed).get("/healthz").status_code == 200


def test_users_read_and_change_only_their_own(world: World) -> None:
    a = world.as_("a")
    assert a.get("/v1/feed", params={"limit": 3}).status_code == 200
    assert a.get("/v1/feed", params={"user_id": world.a}).status_code == 200  # oneself: fine
    for method, path, body in (
            ("GET", "/v1/feed", None), ("GET", "/v1/me/settings", None),
            ("PUT", "/v1/me/settings", {"chat_personalization": False}),
            ("GET", "/v1/cameos/grants", None),
            ("POST", "/v1/cameos/grants", {"grantee_id": world.a}),
            ("DELETE", f"/v1/cameos/grants/{world.a}", None),
            ("GET", "/v1/me/blocks", None)):
        response = a.request(method, path, params={"user_id": world.b}, json=body)
        assert response.status_code == 403, (method, path, response.text)
    other = a.post("/v1/events", json={"events": [_event(1, world.a), _event(2, world.b)]})
    assert other.status_code == 403 and "events[1]" in other.json()["detail"]
    own = a.post("/v1/events", json={"events": [_event(1, world.a)]})
    assert own.status_code == 200 and own.json() == {"received": 1, "new": 1, "duplicates": 0}


def test_parental_rules_belong_to_the_childs_guardian(world: World) -> None:
    x, y = world.child_x, world.child_y
    calls = [("GET", f"/v1/guardian/children/{x}", None),
             ("PATCH", f"/v1/guardian/children/{x}", {"dm_policy": "nobody"}),
             ("PUT", f"/v1/guardian/children/{x}/override", {"limit": 3}),
             ("DELETE", f"/v1/guardian/children/{x}/override", None)]
    for method, path, body in calls:
        for who in ("a", "child_x", "guardian_y"):  # a user, the child itself, another guardian
            response = world.as_(who).request(method, path, json=body)
            assert response.status_code == 403, (who, method, path, response.text)
        for who in ("guardian_x", "service"):
            response = world.as_(who).request(method, path, json=body)
            assert response.status_code == 200, (who, method, path, response.text)
    assert world.as_("guardian_x").get(f"/v1/guardian/children/{y}").status_code == 403
    listed = world.as_("guardian_x").get("/v1/guardian/children").json()["children"]
    assert x in [c["child_id"] for c in listed] and y not in [c["child_id"] for c in listed]
    assert world.as_("a").get("/v1/guardian/children").status_code == 403
    assert world.as_("service").get("/v1/guardian/children").status_code == 422
    by_service = world.as_("service").get("/v1/guardian/children",
                                           params={"guardian_id": world.guardian_y})
    assert y in [c["child_id"] for c in by_service.json()["children"]]
    assert world.as_("guardian_x").get("/v1/feed").status_code == 403


def test_only_a_service_links_guardians_or_reloads(world: World) -> None:
    link = {"guardian_id": world.a, "child_id": world.b}
    for who in ("a", "b", "guardian_x"):
        assert world.as_(who).post("/v1/guardian/links", json=link).status_code == 403
        assert world.as_(who).delete(f"/v1/guardian/links/{world.b}").status_code == 403
        assert world.as_(who).post("/v1/admin/reload").status_code == 403
    service = world.as_("service")
    assert service.post("/v1/guardian/links", json=link).status_code == 201
    assert service.post("/v1/guardian/links", json=link).status_code == 200
    taken = service.post("/v1/guardian/links", json={"guardian_id": world.guardian_x,
                                                      "child_id": world.b})
    assert taken.status_code == 409 and "unlink first" in taken.json()["detail"]
    assert world.as_("b").get(f"/v1/guardian/children/{world.b}").status_code == 403
    assert service.delete(f"/v1/guardian/links/{world.b}").status_code == 204
    assert service.delete(f"/v1/guardian/links/{world.b}").status_code == 404
    reload = service.post("/v1/admin/reload")
    assert reload.status_code == 200 and reload.json()["changed"] is False


def test_a_service_acts_for_the_user_it_names(world: World) -> None:
    service = world.as_("service")
    assert service.get("/v1/feed").status_code == 422  # must say whom for
    page = service.get("/v1/feed", params={"user_id": world.b, "limit": 2})
    assert page.status_code == 200 and len(page.json()["items"]) == 2
    put = service.put("/v1/me/settings", params={"user_id": world.b},
                      json={"chat_personalization": True})
    assert put.json() == {"user_id": world.b, "chat_personalization": True, "supervised": False}
    grant = service.post("/v1/cameos/grants", params={"user_id": world.b},
                         json={"grantee_id": world.a})
    assert grant.status_code == 201 and grant.json()["owner_id"] == world.b
    mine = world.as_("b").get("/v1/cameos/grants").json()["grants"]
    assert world.a in [g["grantee_id"] for g in mine]


def test_dm_questions_are_the_callers_own(world: World) -> None:
    query = {"from": world.a, "to": world.b}
    assert world.as_("a").get("/v1/dm/allowed", params=query).status_code == 200
    # A user asks only about messages it would send: the recipient's side is not its own
    # (asked from any `from`, it would map who is supervised or blocks whom).
    assert world.as_("b").get("/v1/dm/allowed", params=query).status_code == 403
    assert world.as_("child_x").get("/v1/dm/allowed", params=query).status_code == 403
    assert world.as_("guardian_x").get("/v1/dm/allowed", params=query).status_code == 403
    assert world.as_("service").get("/v1/dm/allowed", params=query).status_code == 200
    same = world.as_("a").get("/v1/dm/allowed", params={"from": world.a, "to": world.a})
    assert same.status_code == 400 and "same user" in same.json()["detail"]


def test_the_command_line_has_serve_and_hands_worker_its_own_options() -> None:
    serve = subprocess.run([REELRANK, "serve", "--help"], capture_output=True, text=True,
                           check=False)
    assert serve.returncode == 0 and "127.0.0.1" in serve.stdout and "--port" in serve.stdout
    worker = subprocess.run([REELRANK, "worker", "--help"], capture_output=True, text=True,
                            check=False)
    assert worker.returncode == 0 and "--once" in worker.stdout
