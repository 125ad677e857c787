"""Generation requests: after the claim, only the lease holder changes a job."""

from __future__ import annotations

from datetime import timedelta

from reelrank.control import Connection
from reelrank.control.queue import (
    claim_next,
    complete,
    count_requests,
    demand,
    get_request,
    holds_lease,
    insert_request,
    release,
    renew_lease,
    status_counts,
)
from tests.control.conftest import NOW

LATER = NOW + timedelta(minutes=1)


def _submit(con: Connection, request_id: str, status: str = "queued") -> None:
    insert_request(con, request_id=request_id, requester_id=7, prompt="a boat",
                   cameo_user_ids=[8, "nine"], remix_of=None, status=status, reason="free",
                   now=NOW)


def test_a_claimed_job_changes_only_under_its_lease(con: Connection) -> None:
    _submit(con, "r1")
    _submit(con, "r2", status="refused")
    assert get_request(con, "r1")["cameo_user_ids"] == [8, "nine"]
    job = claim_next(con, "w1", now=NOW, lease_until=LATER)
    assert job == {"request_id": "r1", "requester_id": 7, "prompt": "a boat",
                   "cameo_user_ids": [8, "nine"], "remix_of": None, "attempts": 1}
    assert claim_next(con, "w2", now=NOW, lease_until=LATER) is None  # r2 is not queued
    assert holds_lease(con, "r1", "w1") and not holds_lease(con, "r1", "w2")
    assert not renew_lease(con, "r1", "w2", now=NOW, lease_until=LATER)
    assert not complete(con, "r1", "w2", "g-r1", now=NOW)
    # the lease expires: another worker may claim it, and the first can change nothing
    stolen = claim_next(con, "w2", now=LATER, lease_until=LATER + timedelta(minutes=1))
    assert stolen is not None and stolen["attempts"] == 2
    assert not release(con, "r1", "w1", now=LATER)
    assert complete(con, "r1", "w2", "g-r1", now=LATER)
    row = get_request(con, "r1")
    assert (row["status"], row["item_id"], row["attempts"]) == ("done", "g-r1", 2)


def test_demand_and_counts(con: Connection) -> None:
    assert demand(con) == (0, None)
    _submit(con, "r1")
    _submit(con, "r2", status="refused")
    assert demand(con) == (1, NOW)
    assert status_counts(con) == {"queued": 1, "refused": 1}
    assert count_requests(con, 7, since=NOW, statuses=("queued", "done")) == 1
    assert count_requests(con, 7, since=LATER, statuses=("queued", "done")) == 0
    assert get_request(con, "nope") is None
