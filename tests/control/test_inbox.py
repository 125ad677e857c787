"""The event inbox: accepting is idempotent on the event id (by its text), draining marks
rows and drops their IP, pruning forgets old drained rows only."""

from __future__ import annotations

import json
from datetime import timedelta

from reelrank.control import Connection
from reelrank.control.inbox import accept_events, mark_drained, prune_drained, undrained
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
