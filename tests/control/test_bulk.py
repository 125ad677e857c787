"""Whole-table copies: replacing the social state empties what it does not name."""

from __future__ import annotations

import pytest

from reelrank.control import Connection
from reelrank.control.bulk import read_rows, replace_social_state
from reelrank.control.served import add_served, served_on
from tests.control.conftest import NOW

AT = "2026-04-01T00:00:00.000000Z"


def test_replace_then_read_back(con: Connection) -> None:
    add_served(con, "kid", "2026-05-01", 4)
    grants = [("b", "a", AT, None, AT), ("a", "b", AT, AT, AT)]
    guardians = [("kid", "mum", 1, 10, None, None, "friends", AT, AT)]
    replace_social_state(con, {"cameo_grants": grants, "guardians": guardians})
    assert read_rows(con, "cameo_grants") == sorted(grants)
    assert read_rows(con, "guardians") == guardians
    assert read_rows(con, "user_blocks") == []
    assert served_on(con, "kid", NOW.date().isoformat()) == 0
    replace_social_state(con, {})
    assert read_rows(con, "cameo_grants") == []
    with pytest.raises(ValueError, match="unknown social-state table"):
        read_rows(con, "api_tokens")
