"""Publishing a rendered job: consent re-checked, files placed, item registered, request done.

All of it is one write transaction. Holding the control store's write lock while re-checking
consent means no revocation can slip in between the check and the publish: a grant revoked
before this transaction refuses the job; one revoked after it sees an item that the serving
consent filter then hides. The request moves to done only if this worker still holds its lease
(`lease_owner`), so a job is published at most once however many workers touched it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from generation.backends import RenderResult
from generation.consent import missing_consent, refusal_reason
from generation.queue import Job, refuse
from reelrank.control.connection import Connection, stamp, transaction
from reelrank.control.items import generated_item_id, insert_generated_item
from reelrank.control.queue import complete, holds_lease

__all__ = ["Embedded", "publish"]


@dataclass(frozen=True)
class Embedded:
    """The prompt's embedding and the model that made it (both None without an embedder)."""

    vector: np.ndarray | None
    model_id: str | None


def _place(result: RenderResult, home_root: Path, request_id: str) -> tuple[str, str]:
    """Move the rendered files to `media/<request_id>/`; returns paths relative to the home."""
    final = home_root / "media" / request_id
    final.mkdir(parents=True, exist_ok=True)
    placed = []
    for source, stem in ((result.media_path, "clip"), (result.thumbnail_path, "thumbnail")):
        target = final / f"{stem}{source.suffix}"
        os.replace(source, target)  # same file system (staging is under media/): atomic
        placed.append(target.relative_to(home_root).as_posix())
    return placed[0], placed[1]


def publish(con: Connection, job: Job, result: RenderResult, embedded: Embedded, *,
            home_root: Path, now: datetime) -> str:
    """'done', 'refused' (consent no longer live; any charge refunded) or 'lost' (the job is
    no longer this worker's; nothing changed)."""
    with transaction(con):
        if not holds_lease(con, job.request_id, job.worker_id):
            return "lost"
        missing = missing_consent(con, job.requester_id, job.cameo_user_ids)
        if missing:
            reason = "consent withdrawn before publishing: " + refusal_reason(
                missing, job.requester_id)
            return "refused" if refuse(con, job, now, reason) else "lost"
        media_path, thumbnail_path = _place(result, home_root, job.request_id)
        item_id = generated_item_id(job.request_id)
        insert_generated_item(con, {
            "item_id": item_id, "request_id": job.request_id, "creator_id": job.requester_id,
            "created_at": stamp(now), "text": job.prompt, "cameo_user_ids": job.cameo_user_ids,
            "remix_of": job.remix_of, "duration_s": result.duration_s, "media_path": media_path,
            "thumbnail_path": thumbnail_path, "embedding": embedded.vector,
            "embedding_model": embedded.model_id,
        })
        complete(con, job.request_id, job.worker_id, item_id, now=now)
    return "done"
