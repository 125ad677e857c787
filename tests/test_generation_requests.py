"""Generation requests: validation, cameo consent at submission, idempotent resubmission,
status, and the item registry the serving side polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from generation.requests import (
    InvalidGenerationRequestError,
    UnknownGenerationError,
    generation_status,
    submit_generation,
)
from ranking.directory import Directory
from reelrank.contracts import CONTRACTS
from reelrank.control.connection import INTEGRITY_ERRORS
from reelrank.control.connection import stamp as iso
from reelrank.control.items import (
    drain_generated_items,
    generated_item_id,
    insert_generated_item,
    new_generated_items,
)
from reelrank.home import DataHome
from tests.generation_world import register

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
# The served snapshot's side of who and what exists: items to remix (v7 shows u3's cameo,
# and is sensitive) and a user the control store has no account for.
SNAPSHOT = Directory(user_row={"u-snap": 0}, item_row={"v9": 0, "v7": 1},
                     cameo_owners={1: ("u3",)}, item_rating=np.array([0, 1], dtype=np.int8))


@pytest.fixture(autouse=True)
def _accounts(home: DataHome) -> None:
    register(home)


def clock() -> datetime:
    return NOW


def grant(home: DataHome, owner: object, grantee: object, *, revoked: bool = False) -> None:
    con = home.control()
    con.execute(
        "INSERT INTO cameo_grants (owner_id, grantee_id, granted_at, revoked_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner_id, grantee_id) DO UPDATE SET "
        "revoked_at = excluded.revoked_at, updated_at = excluded.updated_at",
        [owner, grantee, iso(NOW - timedelta(days=1)), iso(NOW) if revoked else None, iso(NOW)])
    con.close()


def submit(home: DataHome, requester: object = "u1", prompt: str = "a cat skateboarding",
           **kwargs: object):
    con = home.control()
    try:
        return submit_generation(con, home.settings, requester_id=requester, prompt=prompt,
                                 clock=clock, directory=SNAPSHOT, **kwargs)
    finally:
        con.close()


def test_submit_queues_and_reports_status(home: DataHome) -> None:
    result = submit(home, remix_of="v9")
    assert result.status == "queued" and result.charged == 0
    assert result.reason == "free: generation 1 of 5/day"
    status = generation_status(home.control(), result.request_id)
    assert (status.status, status.requester_id, status.attempts, status.item_id) == (
        "queued", "u1", 0, None)
    assert status.created_at == "2026-03-01T12:00:00.000000Z"
    with pytest.raises(UnknownGenerationError, match="nope"):
        generation_status(home.control(), "nope")


def test_cameo_without_live_grant_is_refused_naming_the_cameo(home: DataHome) -> None:
    grant(home, "u2", "u1")
    grant(home, "u4", "u1", revoked=True)
    result = submit(home, cameo_user_ids=["u2", "u3", "u4"])
    assert result.status == "refused" and result.charged == 0
    assert result.reason == "no live cameo consent from 'u3', 'u4' to 'u1'"
    assert generation_status(home.control(), result.request_id).status == "refused"


def test_own_cameo_and_granted_cameos_are_fine(home: DataHome) -> None:
    grant(home, "u2", "u1")
    assert submit(home, cameo_user_ids=["u1", "u2", "u2"]).status == "queued"
    # A grant is directional: u2 -> u1 lets u1 use u2, not u2 use u1.
    refused = submit(home, requester="u2", cameo_user_ids=["u1"])
    assert refused.reason == "no live cameo consent from 'u1' to 'u2'"


def test_integer_ids_stay_integers(home: DataHome) -> None:
    grant(home, 2, 1)
    result = submit(home, requester=1, cameo_user_ids=[2])
    assert result.status == "queued"
    assert generation_status(home.control(), result.request_id).requester_id == 1
    assert submit(home, requester=1, cameo_user_ids=["2"]).status == "refused"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"prompt": "   "}, "prompt must be non-empty"),
    ({"prompt": "x" * 2001}, "2001 characters"),
    ({"requester": True}, "requester_id"),
    ({"cameo_user_ids": [None]}, "cameo user id"),
    ({"cameo_user_ids": [f"u{i}" for i in range(9)]}, "9 cameos"),
    ({"request_id": "no spaces allowed"}, "request_id"),
])
def test_malformed_requests_are_rejected_and_not_recorded(home: DataHome, kwargs: dict,
                                                          message: str) -> None:
    with pytest.raises(InvalidGenerationRequestError, match=message):
        submit(home, **kwargs)
    assert home.control().execute("SELECT count(*) FROM generation_requests").fetchone() == (0,)


def test_resubmitting_a_request_id_returns_the_first_answer(home: DataHome) -> None:
    first = submit(home, request_id="client-key-1")
    again = submit(home, request_id="client-key-1")
    assert again == first
    assert home.control().execute("SELECT count(*) FROM generation_requests").fetchone() == (1,)
    with pytest.raises(InvalidGenerationRequestError, match="already used"):
        submit(home, prompt="something else", request_id="client-key-1")


def _item(request_id: str, creator: object, cameos: list, seq_hint: int) -> dict:
    return {"item_id": generated_item_id(request_id), "request_id": request_id,
            "creator_id": creator, "created_at": iso(NOW + timedelta(minutes=seq_hint)),
            "text": f"prompt {seq_hint}", "cameo_user_ids": cameos, "remix_of": None,
            "duration_s": 2.4, "media_path": f"media/{request_id}/clip.gif",
            "thumbnail_path": f"media/{request_id}/thumbnail.png",
            "embedding": [0.6, 0.8] if seq_hint % 2 else None,
            "embedding_model": "test-2" if seq_hint % 2 else None}


def test_new_generated_items_polls_by_seq(home: DataHome) -> None:
    con = home.control()
    for n in range(3):
        insert_generated_item(con, _item(f"r{n}", "u1", ["u2"] if n else [], n))
    rows = new_generated_items(con)
    assert [r["item_id"] for r in rows] == ["g-r0", "g-r1", "g-r2"]
    assert rows[1]["cameo_user_ids"] == ["u2"]
    assert rows[1]["embedding"].dtype.name == "float32"
    assert rows[1]["embedding"].tolist() == pytest.approx([0.6, 0.8])
    assert rows[0]["embedding"] is None
    after = new_generated_items(con, after_seq=rows[1]["seq"])
    assert [r["item_id"] for r in after] == ["g-r2"]
    assert new_generated_items(con, after_seq=rows[-1]["seq"]) == []
    assert len(new_generated_items(con, limit=2)) == 2


def test_drain_shapes_rows_as_the_items_contract(home: DataHome) -> None:
    con = home.control()
    empty = drain_generated_items(con, after_seq=5)
    assert empty.items.is_empty() and empty.last_seq == 5
    insert_generated_item(con, _item("r0", 1, [], 0))
    insert_generated_item(con, {**_item("r1", 1, [2], 1), "remix_of": 77})
    batch = drain_generated_items(con)
    assert batch.last_seq == 2
    assert batch.items.columns == [f.name for f in CONTRACTS["items"].fields]
    assert batch.items.schema["creator_id"] == pl.Int64
    assert batch.items.schema["cameo_user_ids"] == pl.List(pl.Int64)
    assert batch.items.row(1, named=True) == {
        "item_id": "g-r1", "creator_id": 1,
        "created_at": NOW + timedelta(minutes=1), "text": "prompt 1", "cameo_user_ids": [2],
        "duration_s": 2.4, "safety_label": "unrated", "remix_of": "77", "topic": None}
    assert drain_generated_items(con, after_seq=1).items["item_id"].to_list() == ["g-r1"]


def test_migration_adds_user_blocks(tmp_path: Path) -> None:
    con = DataHome.open(tmp_path / "h").control()
    con.execute("INSERT INTO user_blocks VALUES ('u1', 'u2', ?)", [iso(NOW)])
    with pytest.raises(INTEGRITY_ERRORS, match="(?i)unique"):
        con.execute("INSERT INTO user_blocks VALUES ('u1', 'u2', ?)", [iso(NOW)])


def test_people_and_remixed_items_that_do_not_exist_are_refused(home: DataHome) -> None:
    ghost = submit(home, requester="ghost")
    assert (ghost.status, ghost.reason) == ("refused", "'ghost' is not a user of this home")
    assert submit(home, requester="u-snap").status == "queued"  # the snapshot knows them
    # Nobody unknown can have consented, even with a grant on record: refused like any
    # missing consent, so the answer does not say who exists.
    grant(home, "ghost", "u1")
    cameo = submit(home, cameo_user_ids=["ghost"])
    assert cameo.reason == "no live cameo consent from 'ghost' to 'u1'"
    remix = submit(home, remix_of="v404")
    assert (remix.status, remix.reason) == ("refused", "remix_of 'v404' is not an item of this home")
    # A finished generation may be remixed as well as a snapshot item.
    con = home.control()
    con.execute("BEGIN")
    insert_generated_item(con, _item("made", "u2", ["u4"], 0))
    con.execute("COMMIT")
    con.close()
    grant(home, "u4", "u1")
    assert submit(home, remix_of="g-made").status == "queued"


def test_a_remix_carries_its_sources_cameos(home: DataHome) -> None:
    """v7 shows u3 (its creator's own likeness is in it only if its cameo list says so):
    remixing it uses u3's likeness, so it needs u3's grant to the remixer."""
    refused = submit(home, remix_of="v7", cameo_user_ids=["u1"])
    assert refused.status == "refused"
    assert refused.reason == ("no live cameo consent from 'u3' to 'u1' "
                              "(they appear in 'v7', which this remixes)")
    grant(home, "u3", "u1")
    queued = submit(home, remix_of="v7", cameo_user_ids=["u1"])
    assert queued.status == "queued"
    row = home.control().execute("SELECT cameo_user_ids FROM generation_requests "
                                 "WHERE request_id = ?", [queued.request_id]).fetchone()
    assert row == ('["u1", "u3"]',)
