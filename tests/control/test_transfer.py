"""Copying a whole control store across backends (`control.transfer`): every row, keys and
sequence numbers included, into an empty store only; the next row continues the sequences."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelrank.control import Connection, connect
from reelrank.control.connection import transaction
from reelrank.control.credits import add_credits, balance, charge
from reelrank.control.grants import grant, live_to, revoke
from reelrank.control.inbox import accept_events
from reelrank.control.transfer import copy_store, store_tables
from reelrank.errors import ConflictError
from tests.control.conftest import NOW


def _fill(con: Connection) -> None:
    grant(con, 7, 8, now=NOW)
    grant(con, "u1", "u2", now=NOW)
    revoke(con, "u1", "u2", now=NOW)
    add_credits(con, "u1", 5, now=NOW, reference="pay-1")
    with transaction(con):
        charge(con, "u1", "r1", 2, now=NOW)
    event = {"user_id": "u1", "item_id": "i1", "event_type": "like",
             "ts": "2026-05-01T09:00:00.000000Z"}
    accept_events(con, [{**event, "event_id": "e1"}, {**event, "event_id": 7}], now=NOW)
    # the newest inbox row is gone (as after a prune): its seq must not be issued again
    con.execute("DELETE FROM event_inbox WHERE seq = (SELECT max(seq) FROM event_inbox)")


def _everything(con: Connection) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(map(tuple, con.execute(f"SELECT * FROM {t}").fetchall()), key=repr)
            for t in store_tables(con)}


def test_a_store_copied_to_the_other_backend_and_back_is_the_same(
        tmp_path: Path, postgres_url: str) -> None:
    sqlite, pg, back = (connect(tmp_path / "a.sqlite"), connect(postgres_url),
                        connect(tmp_path / "b.sqlite"))
    try:
        _fill(sqlite)
        there = copy_store(sqlite, pg)
        assert there["cameo_grants"] == 2 and there["credit_ledger"] == 2
        assert copy_store(pg, back) == there
        assert _everything(back) == _everything(sqlite)
        # the copy is a working store: ids keep their type, the ledger its balance, and the
        # next ledger entry and inbox row continue after the copied ones
        assert live_to(pg, [8]) == {(7, 8)} and balance(pg, "u1") == 3
        add_credits(pg, "u1", 1, now=NOW)
        assert [e for (e,) in pg.execute("SELECT entry_id FROM credit_ledger ORDER BY 1")] \
            == [1, 2, 3]
        for store in (pg, back):
            accept_events(store, [{"event_id": "e9", "user_id": "u9", "item_id": "i1",
                                   "event_type": "like", "ts": "2026-05-01T09:00:00.000000Z"}],
                          now=NOW)
            assert [s for (s,) in store.execute("SELECT seq FROM event_inbox ORDER BY 1")
                    ] == [1, 3]
        with pytest.raises(ConflictError, match="already holds rows"):
            copy_store(sqlite, pg)
    finally:
        for con in (sqlite, pg, back):
            con.close()
