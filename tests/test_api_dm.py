"""GET /v1/dm/allowed through a real server: a user asks only about messages it would send
and learns only "allowed" or "not allowed", so one token cannot map who is supervised or who
blocked it; a supervised child sends only as its guardian allows; a service gets reasons."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token

REFUSED = {"allowed": False, "reason": "not allowed"}
ALLOWED = {"allowed": True, "reason": "allowed"}


@dataclass(frozen=True)
class World:
    home: DataHome
    server: Server
    users: list[object]
    children: list[object]
    friends: dict[object, set[object]]

    def client(self, scope: str, subject: object):
        return self.server.client(token(self.home, scope, subject))


@pytest.fixture(scope="module")
def world(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api-dm")
    home = copy_home(scored_home, root / "home")
    latest = home.dir("snapshots") / "latest"
    users = pl.read_parquet(latest / "users.parquet")["user_id"].to_list()
    graph = pl.read_parquet(latest / "graph.parquet").filter(~pl.col("follows"))
    friends: dict[object, set[object]] = {}
    for user, author in graph.select("user_id", "author").iter_rows():
        friends.setdefault(user, set()).add(author)
    control = home.control()
    children = [c for (c,) in control.execute("SELECT child_id FROM guardians ORDER BY 1")]
    control.close()
    with Server(home, root / "server.log") as server:
        yield World(home, server, users, children, friends)


def test_one_user_token_cannot_tell_supervised_from_blocked_from_missing(world: World) -> None:
    supervised = set(world.children)
    sender = next(u for u in world.users if u not in supervised
                  and not world.friends.get(u, set()) & supervised and world.friends.get(u))
    service = world.client("service", "app")
    # Every child refuses strangers one way or another; the sender befriends none of them.
    for n, child in enumerate(world.children):
        rule = ("friends", "nobody")[n % 2]
        assert service.patch(f"/v1/guardian/children/{child}",
                             json={"dm_policy": rule}).status_code == 200
    blocker = next(u for u in world.users if u not in supervised and u != sender
                   and u not in world.friends.get(sender, set()))
    assert world.client("user", blocker).post(
        "/v1/me/blocks", json={"blocked_id": sender}).status_code == 201
    me = world.client("user", sender)

    def told(to: object) -> dict:
        got = me.get("/v1/dm/allowed", params={"from": sender, "to": to})
        assert got.status_code == 200, got.text
        return got.json()

    for to in [*world.children, blocker, "u9999999", "nobody-by-that-name"]:
        assert told(to) == REFUSED, to
    # Whoever is asked about, the answer is one of two bodies; an ordinary account takes
    # messages from anyone it has not blocked.
    answers = {u: told(u) for u in world.users if u != sender}
    assert set(map(str, answers.values())) == {str(REFUSED), str(ALLOWED)}
    assert all(answers[u] == ALLOWED for u in world.users
               if u not in supervised and u not in (sender, blocker))
    # A service gets the reason.
    why = service.get("/v1/dm/allowed", params={"from": sender, "to": blocker}).json()
    assert why == {"allowed": False, "reason": f"{blocker} has blocked {sender}"}
    ghost = service.get("/v1/dm/allowed", params={"from": sender, "to": "u9999999"}).json()
    assert ghost["reason"] == "u9999999 is not a user of this home"
    # Asking about someone else's messages, either side, is not a user's question.
    for query in ({"from": blocker, "to": sender}, {"from": world.children[0], "to": sender}):
        refused = me.get("/v1/dm/allowed", params=query)
        assert refused.status_code == 403 and "from" in refused.json()["detail"]


def test_a_supervised_child_sends_only_as_its_guardian_allows(world: World) -> None:
    supervised = set(world.children)
    child, friend = next((c, f) for c in world.children
                         for f in sorted(world.friends.get(c, set())) if f not in supervised)
    stranger = next(u for u in world.users if u not in supervised and u != friend
                    and u not in world.friends.get(child, set()))
    service, kid = world.client("service", "app"), world.client("user", child)

    def may(to: object) -> bool:
        body = kid.get("/v1/dm/allowed", params={"from": child, "to": to}).json()
        assert body in (ALLOWED, REFUSED)
        return body["allowed"]

    for rule, to_friend, to_stranger in (("nobody", False, False), ("friends", True, False),
                                         ("everyone", True, True)):
        assert service.patch(f"/v1/guardian/children/{child}",
                             json={"dm_policy": rule}).status_code == 200
        assert (may(friend), may(stranger)) == (to_friend, to_stranger), rule
    assert service.patch(f"/v1/guardian/children/{child}",
                         json={"dm_policy": "friends"}).status_code == 200
    why = service.get("/v1/dm/allowed", params={"from": child, "to": stranger}).json()
    assert why["reason"] == f"{child}'s guardian allows messages with friends only"
