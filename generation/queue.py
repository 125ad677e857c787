"""The job queue over the control store's generation requests: claim with a lease, renew,
retry, give up.

A worker owns a job while it holds the job's lease (`reelrank.control.queue`: every state
change after the claim is conditional on the lease owner), so a worker whose lease ran out
(stalled, or presumed dead and replaced) can change nothing: a job completes at most once, and
a job whose worker died is claimed again once its lease expires, so none is lost. `attempts`
counts claims; a job that has used `generation_max_attempts` of them, by failing or by losing
its worker, is failed and its charge refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from reelrank.control import queue as control_queue
from reelrank.control.connection import Connection, transaction
from reelrank.control.credits import refund
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


def _fail_abandoned(con: Connection, settings: Settings, now: datetime) -> None:
    """Jobs whose worker was lost on their last allowed attempt: failed and refunded, not
    claimed again (a job that kills its worker must not take down every worker in turn)."""
    reason = (f"worker lost on each of {settings.generation_max_attempts} attempts "
              "(lease expired)")
    for request_id in control_queue.fail_expired(
            con, now=now, reason=reason, min_attempts=settings.generation_max_attempts):
        refund(con, request_id, now=now)


def claim(con: Connection, settings: Settings, worker_id: str, now: datetime) -> Job | None:
    """Take the oldest claimable job (queued and due, or running with an expired lease)."""
    expires = now + timedelta(seconds=settings.generation_lease_s)
    with transaction(con):
        _fail_abandoned(con, settings, now)
        row = control_queue.claim_next(con, worker_id, now=now, lease_until=expires)
    if row is None:
        return None
    return Job(request_id=row["request_id"], requester_id=row["requester_id"],
               prompt=row["prompt"], cameo_user_ids=tuple(row["cameo_user_ids"]),
               remix_of=row["remix_of"], attempt=int(row["attempts"]), worker_id=worker_id)


def renew(con: Connection, settings: Settings, job: Job, now: datetime) -> bool:
    """Extend the lease; False means the job is no longer this worker's."""
    return control_queue.renew_lease(
        con, job.request_id, job.worker_id, now=now,
        lease_until=now + timedelta(seconds=settings.generation_lease_s))


def release(con: Connection, job: Job, now: datetime) -> bool:
    """Hand an unfinished job back (the worker is stopping): queued again at once, and this
    claim is not counted as an attempt."""
    return control_queue.release(con, job.request_id, job.worker_id, now=now)


def retry_or_fail(con: Connection, settings: Settings, job: Job, now: datetime,
                  error: str) -> str:
    """After a failed attempt: queued again after exponential backoff, or, on the last
    attempt, failed with its charge refunded. Returns the new status ('lost' when the job was
    no longer this worker's, so nothing changed)."""
    with transaction(con):
        if job.attempt >= settings.generation_max_attempts:
            status, not_before = "failed", None
            reason = f"failed after {job.attempt} attempts: {error}"
        else:
            delay = settings.generation_backoff_s * 2 ** (job.attempt - 1)
            status, not_before = "queued", now + timedelta(seconds=delay)
            reason = f"attempt {job.attempt} failed, retrying after {delay:g}s: {error}"
        if not control_queue.end_attempt(con, job.request_id, job.worker_id, status=status,
                                         reason=reason, not_before=not_before, now=now):
            return "lost"
        if status == "failed":
            refund(con, job.request_id, now=now)
    return status


def refuse(con: Connection, job: Job, now: datetime, reason: str) -> bool:
    """Refuse a claimed job (consent is no longer live) and refund its charge; False when the
    job is no longer this worker's. Joins the caller's transaction if one is open."""
    if not con.in_transaction:
        with transaction(con):
            return refuse(con, job, now, reason)
    if not control_queue.refuse(con, job.request_id, job.worker_id, reason=reason, now=now):
        return False
    refund(con, job.request_id, now=now)
    return True
