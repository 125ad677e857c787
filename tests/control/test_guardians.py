"""Supervised accounts: one guardian per child, rules changed one by one."""

from __future__ import annotations

import pytest

from reelrank.control import Connection
from reelrank.control.guardians import (
    child_rules,
    children_of,
    dm_policy,
    link,
    rules_of,
    scroll_rules,
    set_override,
    unlink,
    update_rules,
)
from reelrank.errors import ConflictError, NotFoundError, ReelrankError
from tests.control.conftest import NOW


def test_linking_twice_is_harmless_but_another_guardian_conflicts(con: Connection) -> None:
    rules, created = link(con, "mum", "kid", now=NOW)
    assert created and rules["guardian_id"] == "mum" and rules["dm_policy"] == "friends"
    assert link(con, "mum", "kid", now=NOW) == (rules, False)
    with pytest.raises(ConflictError, match="already linked") as refused:
        link(con, "dad", "kid", now=NOW)
    assert isinstance(refused.value, ReelrankError)
    assert not con.in_transaction
    assert child_rules(con, "kid") == rules  # nothing changed


def test_rules_change_only_where_named(con: Connection) -> None:
    link(con, "mum", "kid", now=NOW)
    update_rules(con, "kid", {"scroll_limit": 20}, now=NOW)
    update_rules(con, "kid", {"personalization": False, "dm_policy": "nobody"}, now=NOW)
    set_override(con, "kid", 30, now=NOW)
    assert rules_of(con, ["kid", "adult"]) == {"kid": (0, 20, 30, "2026-05-01", "nobody")}
    assert scroll_rules(con, "kid") == (20, 30, "2026-05-01")
    assert scroll_rules(con, "adult") is None
    assert (dm_policy(con, "kid"), dm_policy(con, "adult")) == ("nobody", None)
    set_override(con, "kid", None, now=NOW)
    update_rules(con, "kid", {"scroll_limit": None}, now=NOW)
    assert scroll_rules(con, "kid") == (None, None, None)
    with pytest.raises(ValueError, match="unknown guardian rules"):
        update_rules(con, "kid", {"bedtime": "21:00"}, now=NOW)


def test_an_unsupervised_account_is_not_found(con: Connection) -> None:
    with pytest.raises(NotFoundError):
        update_rules(con, "adult", {"scroll_limit": 5}, now=NOW)
    with pytest.raises(NotFoundError):
        set_override(con, "adult", 5, now=NOW)
    link(con, "mum", "kid", now=NOW)
    assert [c["child_id"] for c in children_of(con, "mum")] == ["kid"]
    unlink(con, "kid")
    with pytest.raises(NotFoundError, match="not a supervised account"):
        unlink(con, "kid")
    assert child_rules(con, "kid") is None and children_of(con, "mum") == []
