"""API tokens: only the hash is stored; a revoked token speaks for nobody."""

from __future__ import annotations

import pytest

from reelrank.control import Connection
from reelrank.control.tokens import Caller, create_token, lookup_token, revoke_token
from reelrank.errors import NotFoundError, ReelrankError
from tests.control.conftest import NOW


def test_create_look_up_and_revoke(con: Connection) -> None:
    token = create_token(con, "guardian", "mum", now=NOW, label="phone")
    assert token.startswith("rr_")
    assert token not in str(con.execute("SELECT * FROM api_tokens").fetchall())
    assert lookup_token(con, token) == Caller("guardian", "mum", "phone")
    revoke_token(con, f" {token}\n", now=NOW)  # as pasted from a terminal
    assert lookup_token(con, token) is None
    with pytest.raises(NotFoundError, match="no live token"):
        revoke_token(con, token, now=NOW)


def test_bad_tokens_and_scopes(con: Connection) -> None:
    assert lookup_token(con, "rr_not-issued") is None
    assert lookup_token(con, "no prefix") is None
    with pytest.raises(ReelrankError, match="unknown token scope"):
        create_token(con, "admin", "x", now=NOW)
    with pytest.raises(ReelrankError, match="needs a subject"):
        create_token(con, "user", "", now=NOW)
