"""Sign-ups: durable at once, idempotent for a retry, a conflict for other details or an
erased id; drained once, kept a while after, then forgotten."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reelrank.control import Connection
from reelrank.control.accounts import (
    mark_drained,
    prune_drained,
    register,
    registered_among,
    undrained,
)
from reelrank.control.erasure import erase
from reelrank.errors import ConflictError
from tests.control.conftest import NOW


def test_a_sign_up_is_idempotent_and_not_an_update(con: Connection) -> None:
    row, new = register(con, "ann", created_at=None, country="DE", birth_year=1990, now=NOW)
    assert new and row["created_at"] == row["registered_at"] == "2026-05-01T09:30:00.000000Z"
    # a retry (no created_at: not stated, so not different) is the same sign-up
    again, new = register(con, "ann", created_at=None, country="DE", birth_year=None,
                          now=NOW + timedelta(minutes=1))
    assert not new and again == row
    with pytest.raises(ConflictError, match="other details"):
        register(con, "ann", created_at=None, country="FR", birth_year=None, now=NOW)
    assert registered_among(con, ["ann", "bob"]) == {"ann"}


def test_an_erased_id_is_not_signed_up_again(con: Connection) -> None:
    erase(con, "bob", now=NOW, hide_until=NOW + timedelta(days=1))
    with pytest.raises(ConflictError, match="erased"):
        register(con, "bob", created_at=None, country=None, birth_year=None, now=NOW)


def test_drained_sign_ups_are_kept_then_forgotten(con: Connection) -> None:
    for user in ("a", "b"):
        register(con, user, created_at=NOW, country=None, birth_year=None, now=NOW)
    rows = undrained(con)
    assert [r["user_id"] for r in rows] == ["a", "b"]
    assert mark_drained(con, rows[0]["seq"], rows[-1]["seq"], now=NOW) == 2
    assert undrained(con) == []
    assert registered_among(con, ["a", "b"]) == {"a", "b"}  # still known to the API
    assert prune_drained(con, NOW) == 0
    assert prune_drained(con, NOW + timedelta(seconds=1)) == 2
