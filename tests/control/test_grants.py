"""Cameo grants: granting twice keeps the first time, a revoked grant is not live, granting
again after a revocation starts a new grant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reelrank.control import Connection
from reelrank.control.connection import dialect
from reelrank.control.grants import all_live, grant, is_live, list_grants, live_to, revoke
from reelrank.errors import NotFoundError
from tests.control.conftest import NOW

T0, T1, T2 = "2026-05-01T09:30:00.000000Z", "2026-05-01T10:30:00.000000Z", \
    "2026-05-01T11:30:00.000000Z"


def test_grant_revoke_and_grant_again(con: Connection) -> None:
    assert grant(con, "ann", "bob", now=NOW) == {
        "owner_id": "ann", "grantee_id": "bob", "granted_at": T0, "revoked_at": None}
    # already live: the original time stays
    assert grant(con, "ann", "bob", now=NOW + timedelta(hours=1))["granted_at"] == T0
    assert revoke(con, "ann", "bob", now=NOW + timedelta(hours=1))["revoked_at"] == T1
    assert not is_live(con, "ann", "bob")
    again = grant(con, "ann", "bob", now=NOW + timedelta(hours=2))
    assert (again["granted_at"], again["revoked_at"]) == (T2, None)
    assert is_live(con, "ann", "bob")


def test_a_revoked_grant_is_not_live_anywhere(con: Connection) -> None:
    grant(con, "ann", "bob", now=NOW)
    grant(con, "cat", "bob", now=NOW)
    grant(con, "ann", "dan", now=NOW)
    revoke(con, "cat", "bob", now=NOW)
    assert live_to(con, ["bob"]) == {("ann", "bob")}
    assert live_to(con, ["bob", "dan", "nobody"]) == {("ann", "bob"), ("ann", "dan")}
    assert all_live(con) == {("ann", "bob"), ("ann", "dan")}
    assert [g["grantee_id"] for g in list_grants(con, "cat", include_revoked=False)] == []
    assert [g["grantee_id"] for g in list_grants(con, "cat", include_revoked=True)] == ["bob"]


def test_revoking_what_is_not_live_is_not_found(con: Connection) -> None:
    with pytest.raises(NotFoundError, match="no live grant"):
        revoke(con, "ann", "bob", now=NOW)
    grant(con, "ann", "bob", now=NOW)
    revoke(con, "ann", "bob", now=NOW)
    with pytest.raises(NotFoundError):
        revoke(con, "ann", "bob", now=NOW)


def test_ids_keep_their_type(con: Connection) -> None:
    grant(con, 7, 8, now=NOW)
    assert live_to(con, [8]) == {(7, 8)}
    if dialect(con) == "sqlite":  # PostgreSQL keeps ids as text (`control.postgres`)
        assert live_to(con, ["8"]) == set()
    assert live_to(con, ["x8"]) == set()
