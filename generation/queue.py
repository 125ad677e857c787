"""The job queue over `generation_requests`: claim with a lease, renew, retry, give up.

A worker owns a job while `lease_owner` is its id and the lease has not expired. Every state
change after the claim is a conditional UPDATE on `lease_owner`, so a worker whose lease ran out
(stalled, or presumed dead and replaced) can change nothing: a job completes at most once, and
a job whose worker died is claimed again once its lease expires, so none is lost. `attempts`
counts claims; a job that has used `generation_max_attempts` of them, by failing or by losing
its worker, is failed and its charge refunded.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from generation._common import immediate, iso
from generation.credits import refund
from reelrank.settings import Settings

__all__ = ["Job", "claim", "refuse", "release", "renew", "retry_or_fail"]


@dataclass(frozen=True)
class Job:
    """A claimed request; `attempt` is 1 on the first claim."""

    request_id: str
    requester_id: object
    prompt: str
    cameo_user_ids: tuple[object, ...]
    remix_of: object
    attempt: int
    worker_id: str


def _fail_abandoned(con: sqlite3.Connection, settings: Settings, now: datetime) -> None:
    """Jobs whose worker was lost on their last allowed attempt: failed and refunded, not
    claimed again (a job that kills its worker must not take down every worker in turn)."""
    reason = (f"worker lost on each of {settings.generation_max_attempts} attempts "
              "(lease expired)")
    rows = con.execute(
        "UPDATE generation_requests SET status = 'failed', reason = ?, lease_owner = NULL, "
        "lease_expires_at = NULL, updated_at = ? WHERE status = 'running' "
        "AND lease_expires_at <= ? AND attempts >= ? RETURNING request_id",
        [reason, iso(now), iso(now), settings.generation_max_attempts]).fetchall()
    for (request_id,) in rows:
        refund(con, request_id, now=now)


def claim(con: sqlite3.Connection, settings: Settings, worker_id: str, now: datetime
          ) -> Job | None:
    """Take the oldest claimable job (queued and due, or running with an expired lease)."""
    expires = now + timedelta(seconds=settings.generation_lease_s)
    with immediate(con):
        _fail_abandoned(con, settings, now)
        row = con.execute(
            "UPDATE generation_requests SET status = 'running', attempts = attempts + 1, "
            "lease_owner = ?, lease_expires_at = ?, not_before = NULL, updated_at = ? "
            "WHERE request_id = (SELECT request_id FROM generation_requests "
            "  WHERE (status = 'queued' AND (not_before IS NULL OR not_before <= ?)) "
            "     OR (status = 'running' AND lease_expires_at <= ?) "
            "  ORDER BY created_at, request_id LIMIT 1) "
            "RETURNING request_id, requester_id, prompt, cameo_user_ids, remix_of, attempts",
            [worker_id, iso(expires), iso(now), iso(now), iso(now)]).fetchone()
    if row is None:
        return None
    return Job(request_id=row[0], requester_id=row[1], prompt=row[2],
               cameo_user_ids=tuple(json.loads(row[3])), remix_of=row[4], attempt=int(row[5]),
               worker_id=worker_id)


def renew(con: sqlite3.Connection, settings: Settings, job: Job, now: datetime) -> bool:
    """Extend the lease; False means the job is no longer this worker's."""
    cur = con.execute(
        "UPDATE generation_requests SET lease_expires_at = ?, updated_at = ? "
        "WHERE request_id = ? AND lease_owner = ? AND status = 'running'",
        [iso(now + timedelta(seconds=settings.generation_lease_s)), iso(now), job.request_id,
         job.worker_id])
    return cur.rowcount == 1


def release(con: sqlite3.Connection, job: Job, now: datetime) -> bool:
    """Hand an unfinished job back (the worker is stopping): queued again at once, and this
    claim is not counted as an attempt."""
    cur = con.execute(
        "UPDATE generation_requests SET status = 'queued', attempts = attempts - 1, "
        "lease_owner = NULL, lease_expires_at = NULL, updated_at = ? "
        "WHERE request_id = ? AND lease_owner = ? AND status = 'running'",
        [iso(now), job.request_id, job.worker_id])
    return cur.rowcount == 1


def retry_or_fail(con: sqlite3.Connection, settings: Settings, job: Job, now: datetime,
                  error: str) -> str:
    """After a failed attempt: queued again after exponential backoff, or, on the last
    attempt, failed with its charge refunded. Returns the new status ('lost' when the job was
    no longer this worker's, so nothing changed)."""
    with immediate(con):
        if job.attempt >= settings.generation_max_attempts:
            status, not_before = "failed", None
            reason = f"failed after {job.attempt} attempts: {error}"
        else:
            delay = settings.generation_backoff_s * 2 ** (job.attempt - 1)
            status, not_before = "queued", iso(now + timedelta(seconds=delay))
            reason = f"attempt {job.attempt} failed, retrying after {delay:g}s: {error}"
        cur = con.execute(
            "UPDATE generation_requests SET status = ?, reason = ?, not_before = ?, "
            "lease_owner = NULL, lease_expires_at = NULL, updated_at = ? "
            "WHERE request_id = ? AND lease_owner = ? AND status = 'running'",
            [status, reason, not_before, iso(now), job.request_id, job.worker_id])
        if cur.rowcount != 1:
            return "lost"
        if status == "failed":
            refund(con, job.request_id, now=now)
    return status


def refuse(con: sqlite3.Connection, job: Job, now: datetime, reason: str) -> bool:
    """Refuse a claimed job (consent is no longer live) and refund its charge; False when the
    job is no longer this worker's. Joins the caller's transaction if one is open."""
    if not con.in_transaction:
        with immediate(con):
            return refuse(con, job, now, reason)
    cur = con.execute(
        "UPDATE generation_requests SET status = 'refused', reason = ?, lease_owner = NULL, "
        "lease_expires_at = NULL, updated_at = ? "
        "WHERE request_id = ? AND lease_owner = ? AND status = 'running'",
        [reason, iso(now), job.request_id, job.worker_id])
    if cur.rowcount != 1:
        return False
    refund(con, job.request_id, now=now)
    return True
