"""The event inbox: accepting is idempotent on (user, event id) (the id by its text), the
same pair with other content is a conflict, draining marks rows and drops their IP, pruning
forgets old drained rows only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from reelrank.control import Connection
from reelrank.control.connection import dialect
from reelrank.control.inbox import accept_events, mark_drained, prune_drained, undrained
from reelrank.errors import ConflictError
from tests.control.conftest import NOW


def _event(event_id: object, **extra: object) -> dict[str, object]:
    return {"event_id": event_id, "user_id": "u1", "kind": "like", **extra}


def test_accepting_is_idempotent(con: Connection) -> None:
    assert accept_events(con, [_event(1), _event(2)], now=NOW) == (2, 0)
    assert accept_events(con, [_event(2), _event(3)], now=NOW) == (1, 1)
    # 7 and "7" are one event: a landing file carries no types
    assert accept_events(con, [_event(7), _event("7")], now=NOW) == (1, 1)
    assert accept_events(con, [], now=NOW) == (0, 0)
    rows = undrained(con)
    assert [json.loads(payload)["event_id"] for _, payload in rows] == [1, 2, 3, 7]
    assert [seq for seq, _ in rows] == sorted(seq for seq, _ in rows)  # oldest first


def test_draining_marks_rows_and_drops_the_ip(con: Connection) -> None:
    accept_events(con, [_event("a", ip="192.0.2.1"), _event("b", ip="192.0.2.2")], now=NOW)
    ((first, payload), (last, _)) = undrained(con)
    assert json.loads(payload)["ip"] == "192.0.2.1"
    assert mark_drained(con, first, last, now=NOW) == 2
    assert mark_drained(con, first, last, now=NOW) == 0
    assert undrained(con) == []
    (stored,) = con.execute("SELECT payload FROM event_inbox WHERE event_id = 'a'").fetchone()
    assert json.loads(stored) == _event("a")
    # a drained row still answers a re-sent event as a duplicate, until pruned
    assert accept_events(con, [_event("a")], now=NOW) == (0, 1)
    assert prune_drained(con, NOW) == 0  # drained at NOW, not before it
    assert prune_drained(con, NOW + timedelta(seconds=1)) == 2
    assert accept_events(con, [_event("a")], now=NOW) == (1, 0)


def test_an_event_id_is_its_users_own(con: Connection) -> None:
    """Two users' "e1" are two events; one user's cannot make another's a duplicate."""
    first = {"event_id": "e1", "user_id": "u1", "item_id": "v1", "event_type": "like",
             "ts": "2026-05-01T09:00:00+00:00"}
    other = {**first, "user_id": "u2"}
    assert accept_events(con, [first], now=NOW) == (1, 0)
    assert accept_events(con, [other], now=NOW) == (1, 0)
    assert accept_events(con, [first, other], now=NOW) == (0, 2)
    rows = con.execute("SELECT user_id, event_id, item_id, event_type, ts FROM event_inbox "
                       "ORDER BY seq").fetchall()
    assert rows == [("u1", "e1", "v1", "like", "2026-05-01T09:00:00.000000Z"),
                    ("u2", "e1", "v1", "like", "2026-05-01T09:00:00.000000Z")]
    # the live feed's read: one user's events in order, by index
    if dialect(con) != "sqlite":
        return
    plan = " ".join(r[-1] for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM event_inbox WHERE user_id = ? AND seq > ?",
        ["u1", 0]).fetchall())
    assert "event_inbox_by_user" in plan


def test_the_same_id_with_other_content_is_a_conflict_and_stores_nothing(
        con: Connection) -> None:
    event = {"event_id": "e1", "user_id": "u1", "item_id": "v1", "event_type": "like",
             "ts": "2026-05-01T09:00:00+00:00", "ip": "192.0.2.1"}
    assert accept_events(con, [event], now=NOW) == (1, 0)
    # the same event through another address is the same event
    assert accept_events(con, [{**event, "ip": "192.0.2.9"}], now=NOW) == (0, 1)
    fresh = {**event, "event_id": "e2"}
    with pytest.raises(ConflictError, match=r"events\[1\]: event_id 'e1' of user 'u1'"):
        accept_events(con, [fresh, {**event, "event_type": "skip"}], now=NOW)
    assert con.execute("SELECT count(*) FROM event_inbox").fetchone() == (1,)
    # still a conflict once drained: the row keeps its digest, not its IP
    ((seq, _),) = undrained(con)
    mark_drained(con, seq, seq, now=NOW)
    with pytest.raises(ConflictError):
        accept_events(con, [{**event, "watch_ms": 5}], now=NOW)
    assert accept_events(con, [event], now=NOW) == (0, 1)


def test_a_numeric_event_id_is_held_by_its_text_on_either_backend(con: Connection) -> None:
    event = {"event_id": 7, "user_id": 3, "item_id": 9, "event_type": "like",
             "ts": "2026-05-01T09:00:00+00:00"}
    assert accept_events(con, [event], now=NOW) == (1, 0)
    assert accept_events(con, [{**event, "event_id": "7"}], now=NOW) == (0, 1)
    with pytest.raises(ConflictError, match="event_id"):
        accept_events(con, [{**event, "event_type": "skip"}], now=NOW)
    assert con.execute("SELECT count(*) FROM event_inbox").fetchone() == (1,)
