"""The generation queue's rows (`generation_requests`): recording a request, and each state
change a worker makes, every one after the claim conditional on the worker still holding the
lease (`lease_owner`), so a worker whose lease ran out can change nothing.

The queue's rules (how long a lease lasts, how many attempts, the backoff, when to refund)
are `generation.queue`'s and `generation.requests`'; these are its statements. Statuses:
queued, running, done, refused, failed. `cameo_user_ids` is stored as JSON text and handed
back as a list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reelrank.control.connection import Connection, marks, rows_as_dicts, stamp

__all__ = [
    "claim_next", "complete", "count_requests", "demand", "end_attempt", "fail_expired",
    "get_request", "hold_queued", "holds_lease", "insert_request", "last_update", "refuse",
    "release", "renew_lease", "status_counts",
]

_COLUMNS = ("request_id, requester_id, prompt, cameo_user_ids, remix_of, status, reason, "
            "attempts, item_id, created_at, updated_at")
# Every change a lease holder makes: only while it still holds the lease on a running job.
_HELD = "WHERE request_id = ? AND lease_owner = ? AND status = 'running'"


def insert_request(con: Connection, *, request_id: str, requester_id: object, prompt: str,
                   cameo_user_ids: Sequence[object], remix_of: object, status: str,
                   reason: str, now: datetime) -> None:
    con.execute(
        "INSERT INTO generation_requests (request_id, requester_id, prompt, cameo_user_ids, "
        "remix_of, status, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [request_id, requester_id, prompt, json.dumps(list(cameo_user_ids)), remix_of, status,
         reason, stamp(now), stamp(now)])


def get_request(con: Connection, request_id: str) -> dict[str, Any] | None:
    """Every column of the request but its lease, or None when there is no such request."""
    rows = rows_as_dicts(con.execute(
        f"SELECT {_COLUMNS} FROM generation_requests WHERE request_id = ?", [request_id]))
    if not rows:
        return None
    row = rows[0]
    row["cameo_user_ids"] = json.loads(row["cameo_user_ids"])
    return row


def fail_expired(con: Connection, *, now: datetime, min_attempts: int, reason: str
                 ) -> list[str]:
    """Fail running jobs whose lease has expired after at least `min_attempts` claims;
    returns their request ids."""
    return [r[0] for r in con.execute(
        "UPDATE generation_requests SET status = 'failed', reason = ?, lease_owner = NULL, "
        "lease_expires_at = NULL, updated_at = ? WHERE status = 'running' "
        "AND lease_expires_at <= ? AND attempts >= ? RETURNING request_id",
        [reason, stamp(now), stamp(now), min_attempts]).fetchall()]


def claim_next(con: Connection, worker_id: str, *, now: datetime, lease_until: datetime
               ) -> dict[str, Any] | None:
    """Lease the oldest claimable job (queued and due, or running with an expired lease) to
    `worker_id`, counting the claim as an attempt; None when there is none."""
    rows = rows_as_dicts(con.execute(
        "UPDATE generation_requests SET status = 'running', attempts = attempts + 1, "
        "lease_owner = ?, lease_expires_at = ?, not_before = NULL, updated_at = ? "
        "WHERE request_id = (SELECT request_id FROM generation_requests "
        "  WHERE (status = 'queued' AND (not_before IS NULL OR not_before <= ?)) "
        "     OR (status = 'running' AND lease_expires_at <= ?) "
        "  ORDER BY created_at, request_id LIMIT 1) "
        # Again on the row itself: a server with row locks (PostgreSQL) re-checks this, not
        # the subquery, when a lease renewal committed while this statement waited for it.
        "AND ((status = 'queued' AND (not_before IS NULL OR not_before <= ?)) "
        "     OR (status = 'running' AND lease_expires_at <= ?)) "
        "RETURNING request_id, requester_id, prompt, cameo_user_ids, remix_of, attempts",
        [worker_id, stamp(lease_until), stamp(now), stamp(now), stamp(now), stamp(now),
         stamp(now)]))
    if not rows:
        return None
    row = rows[0]
    row["cameo_user_ids"] = json.loads(row["cameo_user_ids"])
    return row


def renew_lease(con: Connection, request_id: str, worker_id: str, *, now: datetime,
                lease_until: datetime) -> bool:
    """Extend the lease; False means the job is no longer `worker_id`'s."""
    return con.execute(
        f"UPDATE generation_requests SET lease_expires_at = ?, updated_at = ? {_HELD}",
        [stamp(lease_until), stamp(now), request_id, worker_id]).rowcount == 1


def release(con: Connection, request_id: str, worker_id: str, *, now: datetime) -> bool:
    """Queue the job again at once, not counting this claim as an attempt."""
    return con.execute(
        "UPDATE generation_requests SET status = 'queued', attempts = attempts - 1, "
        f"lease_owner = NULL, lease_expires_at = NULL, updated_at = ? {_HELD}",
        [stamp(now), request_id, worker_id]).rowcount == 1


def end_attempt(con: Connection, request_id: str, worker_id: str, *, status: str,
                reason: str, not_before: datetime | None, now: datetime) -> bool:
    """After a failed attempt: `status` 'queued' (due again at `not_before`) or 'failed'."""
    return con.execute(
        "UPDATE generation_requests SET status = ?, reason = ?, not_before = ?, "
        f"lease_owner = NULL, lease_expires_at = NULL, updated_at = ? {_HELD}",
        [status, reason, None if not_before is None else stamp(not_before), stamp(now),
         request_id, worker_id]).rowcount == 1


def refuse(con: Connection, request_id: str, worker_id: str, *, reason: str, now: datetime
           ) -> bool:
    return con.execute(
        "UPDATE generation_requests SET status = 'refused', reason = ?, lease_owner = NULL, "
        f"lease_expires_at = NULL, updated_at = ? {_HELD}",
        [reason, stamp(now), request_id, worker_id]).rowcount == 1


def holds_lease(con: Connection, request_id: str, worker_id: str) -> bool:
    """Whether the job is running under `worker_id`'s lease (expired or not: an expired lease
    still counts until another worker claims the job)."""
    row = con.execute("SELECT lease_owner FROM generation_requests WHERE request_id = ? "
                      "AND status = 'running'", [request_id]).fetchone()
    return row is not None and row[0] == worker_id


def complete(con: Connection, request_id: str, worker_id: str, item_id: object, *,
             now: datetime) -> bool:
    return con.execute(
        "UPDATE generation_requests SET status = 'done', item_id = ?, lease_owner = NULL, "
        f"lease_expires_at = NULL, updated_at = ? {_HELD}",
        [item_id, stamp(now), request_id, worker_id]).rowcount == 1


def demand(con: Connection) -> tuple[int, datetime | None]:
    """(requests queued, when the oldest of them was created)."""
    queued, oldest = con.execute(
        "SELECT count(*), min(created_at) FROM generation_requests WHERE status = 'queued'"
    ).fetchone()
    return int(queued), None if oldest is None else datetime.fromisoformat(oldest)


def count_requests(con: Connection, requester_id: object, *, since: datetime,
                   statuses: Sequence[str]) -> int:
    """The requester's requests created at or after `since` that are in one of `statuses`."""
    (count,) = con.execute(
        "SELECT count(*) FROM generation_requests WHERE requester_id = ? AND created_at >= ? "
        f"AND status IN ({marks(statuses)})", [requester_id, stamp(since), *statuses]
    ).fetchone()
    return int(count)


def status_counts(con: Connection) -> dict[str, int]:
    """How many requests are in each status (statuses with none are left out)."""
    return {status: int(n) for status, n in con.execute(
        "SELECT status, count(*) FROM generation_requests GROUP BY status").fetchall()}


def hold_queued(con: Connection, until: datetime) -> int:
    """Make every queued request wait until `until` (a benchmark's starting gate)."""
    return con.execute("UPDATE generation_requests SET not_before = ? WHERE status = 'queued'",
                       [stamp(until)]).rowcount


def last_update(con: Connection) -> datetime | None:
    """When any request last changed."""
    (last,) = con.execute("SELECT max(updated_at) FROM generation_requests").fetchone()
    return None if last is None else datetime.fromisoformat(last)
