"""The DM policy (`ranking.policy.dm_allowed`) on a hand-built world: both sides exist, no
block either way, each supervised side's guardian rule; the full reason for a service, and
for a user the same two words and the same statements against the store whoever is asked
about, so neither the answer nor its timing maps supervised accounts or blocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ranking.directory import Directory
from ranking.policy import DmDecision, dm_allowed
from reelrank.control.blocks import block
from reelrank.control.guardians import link, update_rules
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

NOW = datetime(2026, 3, 1, tzinfo=UTC)
USERS = ("adult", "friend", "stranger", "blocker", "kid_friends", "kid_nobody", "kid_all",
         "parent")
FRIENDS = {frozenset(p) for p in (("kid_friends", "friend"), ("kid_nobody", "friend"),
                                  ("stranger", "blocker"))}
DIRECTORY = Directory(user_row={u: n for n, u in enumerate(USERS)})


def are_friends(a: object, b: object) -> bool:
    return frozenset((a, b)) in FRIENDS


@pytest.fixture
def control(home: DataHome):
    con = home.control()
    for kid, rule in (("kid_friends", "friends"), ("kid_nobody", "nobody"),
                      ("kid_all", "everyone")):
        link(con, "parent", kid, now=NOW)
        update_rules(con, kid, {"dm_policy": rule}, now=NOW)
    block(con, "blocker", "stranger", now=NOW)
    yield con
    con.close()


def ask(control, sender: object, recipient: object) -> DmDecision:
    return dm_allowed(control, sender, recipient, are_friends, DIRECTORY)


@pytest.mark.parametrize(("sender", "recipient", "allowed", "reason"), [
    ("adult", "stranger", True, "stranger accepts messages from everyone"),
    ("stranger", "blocker", False, "blocker has blocked stranger"),
    ("blocker", "stranger", False, "blocker has blocked stranger"),  # a block is both ways
    ("stranger", "ghost", False, "ghost is not a user of this home"),
    ("ghost", "stranger", False, "ghost is not a user of this home"),
    ("stranger", "kid_friends", False, "kid_friends's guardian allows messages from friends only"),
    ("friend", "kid_friends", True, "friend is a friend of kid_friends"),
    ("friend", "kid_nobody", False, "kid_nobody's guardian allows no direct messages"),
    ("stranger", "kid_all", True, "kid_all's guardian allows messages from everyone"),
    # The sender's own guardian decides what a supervised account may send.
    ("kid_nobody", "friend", False, "kid_nobody's guardian allows no direct messages"),
    ("kid_friends", "friend", True, "friend accepts messages from everyone"),
    ("kid_friends", "stranger", False,
     "kid_friends's guardian allows messages with friends only"),
    ("kid_all", "stranger", True, "stranger accepts messages from everyone"),
])
def test_each_rule_with_its_reason(control, sender: str, recipient: str, allowed: bool,
                                   reason: str) -> None:
    decision = ask(control, sender, recipient)
    assert decision == DmDecision(allowed, reason)
    assert decision.told_sender == ("allowed" if allowed else "not allowed")


def test_a_user_is_told_nothing_about_why_and_the_store_is_asked_the_same(control) -> None:
    """To a non-friend: a friends-only child, someone who blocked you, no such user, a
    child whose guardian allows nobody. Same words, same SQL statements in the same order."""
    statements: list[str] = []
    control.set_trace_callback(statements.append)
    seen = {}
    for recipient in ("kid_friends", "blocker", "ghost", "kid_nobody"):
        statements.clear()
        decision = ask(control, "stranger", recipient)
        seen[recipient] = (decision.allowed, decision.told_sender, tuple(
            s.replace(repr(recipient), "?").replace(f"'{recipient}'", "?") for s in statements))
    control.set_trace_callback(None)
    assert len(set(seen.values())) == 1, seen
    assert next(iter(seen.values()))[:2] == (False, "not allowed")


def test_asking_about_oneself_is_a_mistake(control) -> None:
    with pytest.raises(ReelrankError, match="same user"):
        ask(control, "adult", "adult")
