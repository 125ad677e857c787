"""Erasing a user from the control store: every row by or about them goes in one
transaction, the ledger is closed by an entry (never rewritten), the tombstone stays, and a
guardian of linked children is refused."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from reelrank.control import Connection
from reelrank.control.accounts import register
from reelrank.control.blocks import block, blocked_by
from reelrank.control.credits import add_credits, balance, entries
from reelrank.control.erasure import (
    erase,
    erased_among,
    hidden,
    is_erased,
    mark_applied,
    pending,
)
from reelrank.control.grants import grant
from reelrank.control.guardians import link
from reelrank.control.inbox import accept_events
from reelrank.control.items import insert_generated_item
from reelrank.control.queue import insert_request
from reelrank.control.served import add_served
from reelrank.control.tokens import create_token, lookup_token
from reelrank.control.user_settings import set_chat_personalization
from reelrank.errors import ConflictError
from tests.control.conftest import NOW

LATER = NOW + timedelta(days=30)


def _item(n: int, creator: str, cameos: list[str]) -> dict[str, object]:
    return {"item_id": f"g-r{n}", "request_id": f"r{n}", "creator_id": creator,
            "created_at": "2026-05-01T09:00:00.000000Z", "text": "a clip",
            "cameo_user_ids": cameos, "remix_of": None, "duration_s": 3.0,
            "media_path": f"media/r{n}/clip.gif", "thumbnail_path": f"media/r{n}/thumbnail.png",
            "embedding": np.zeros(4, np.float32), "embedding_model": "m"}


def _everything_about(con: Connection, user: str) -> None:
    set_chat_personalization(con, user, True, now=NOW)
    block(con, user, "x", now=NOW)
    block(con, "y", user, now=NOW)
    grant(con, user, "x", now=NOW)
    grant(con, "y", user, now=NOW)
    link(con, "g", user, now=NOW)
    add_served(con, user, "2026-05-01", 3)
    create_token(con, "user", user, now=NOW)
    accept_events(con, [{"event_id": "e1", "user_id": user, "item_id": "v1",
                         "event_type": "like", "ts": "2026-05-01T09:00:00+00:00",
                         "ip": "192.0.2.1"}], now=NOW)
    insert_request(con, request_id="r1", requester_id=user, prompt="me surfing",
                   cameo_user_ids=[], remix_of=None, status="queued", reason="", now=NOW)
    insert_generated_item(con, _item(1, user, []))
    insert_generated_item(con, _item(2, "y", [user]))  # someone else's video showing them
    insert_generated_item(con, _item(3, "y", []))      # someone else's, not showing them
    add_credits(con, user, 5, now=NOW, reference="pay-1")


def test_erasure_removes_every_row_about_them_at_once(con: Connection) -> None:
    _everything_about(con, "ann")
    register(con, "ann", created_at=None, country=None, birth_year=None, now=NOW)
    token = create_token(con, "user", "ann", now=NOW)
    done = erase(con, "ann", now=NOW, hide_until=LATER)
    assert done.credits_closed == 5
    assert sorted(done.media) == ["media/r1/clip.gif", "media/r1/thumbnail.png",
                                  "media/r2/clip.gif", "media/r2/thumbnail.png"]
    assert done.removed["generated_items"] == 2 and done.removed["cameo_grants"] == 2
    assert lookup_token(con, token) is None
    for table, column in (("user_settings", "user_id"), ("user_blocks", "user_id"),
                          ("user_blocks", "blocked_id"), ("cameo_grants", "owner_id"),
                          ("cameo_grants", "grantee_id"), ("guardians", "child_id"),
                          ("served_today", "user_id"), ("api_tokens", "subject_id"),
                          ("event_inbox", "user_id"), ("registered_users", "user_id"),
                          ("generation_requests", "requester_id"),
                          ("generated_items", "creator_id")):
        (n,) = con.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?",
                           ["ann"]).fetchone()
        assert n == 0, table
    assert [r[0] for r in con.execute("SELECT item_id FROM generated_items")] == ["g-r3"]
    # the ledger keeps its history and is closed by one more entry
    assert [e["delta"] for e in entries(con, "ann")] == [5, -5] and balance(con, "ann") == 0
    assert is_erased(con, "ann") and erased_among(con, ["ann", "y"]) == {"ann"}
    with pytest.raises(ConflictError, match="already erased"):
        erase(con, "ann", now=NOW, hide_until=LATER)


def test_an_erased_creator_is_hidden_from_every_feed_until_the_deadline(
        con: Connection) -> None:
    block(con, "viewer", "z", now=NOW)
    erase(con, "ann", now=NOW, hide_until=LATER)
    assert blocked_by(con, ["viewer", "other"], now=NOW) == {
        "viewer": {"z", "ann"}, "other": {"ann"}}
    assert blocked_by(con, ["viewer", "other"], now=LATER) == {"viewer": {"z"}}
    assert hidden(con, NOW) == ["ann"]
    assert pending(con) == ["ann"]
    assert mark_applied(con, ["ann"], now=NOW) == 1 and pending(con) == []


def test_a_guardian_with_linked_children_is_refused(con: Connection) -> None:
    link(con, "mum", "kid", now=NOW)
    with pytest.raises(ConflictError, match="unlink them first"):
        erase(con, "mum", now=NOW, hide_until=LATER)
    assert not is_erased(con, "mum")
    erase(con, "kid", now=NOW, hide_until=LATER)  # the child's erasure ends the link
    erase(con, "mum", now=NOW, hide_until=LATER)
