"""A user's own data through the API: signing up, what is held about them (export), and
erasure.

Erasure, end to end:
- at once (`reelrank.control.erasure.erase`, one transaction): every control-store row by or
  about them goes (settings, blocks either way, grants given and received, supervision,
  served counters, tokens, inbox events, sign-up, generation requests, generations they made
  or appear in, whose files are deleted here); the credit ledger, append-only, gets one entry
  closing the balance and keeps its history; their id is kept as a tombstone. From the next
  request: their feed and every other call acting for them is 410; events naming them or
  their videos are refused; their cameo leaves every video (no grant remains); their own
  videos are kept out of every feed (an erased creator is in every viewer's blocked set for
  `erasure_hide_days`).
- at the next pipeline run (`reelrank.upkeep`): the warehouse forgets them
  (`reelrank.erase`): their rows, the items they made or appear in and everything about
  those, and its file is rewritten so the deleted bytes go too; then the snapshot, index and
  batch feeds are rebuilt without them. Published
  snapshots older than that one keep them until pruned (`snapshots_kept` runs) and are only
  served if every newer one fails to load, with the erasure still filtered online.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from api.errors import ConflictError, InvalidInputError
from api.ids import UserId
from api.schemas import ErasureOut, ExportOut, UserIn, UserOut
from reelrank.contracts import CONTRACTS
from reelrank.control import accounts, erasure
from reelrank.control.connection import Connection, stamp
from reelrank.control.holdings import held_about
from reelrank.erase import remove_media
from reelrank.home import DataHome
from reelrank.ingest.coerce import coerce

__all__ = ["erase_user", "export_user", "sign_up"]

_USERS = CONTRACTS["users"]
_PENDING = ("removed from the control store now; the next pipeline run erases them from the "
            "warehouse, and the snapshot and feeds it publishes no longer hold them")


def sign_up(control: Connection, snap, body: UserIn, user: UserId, *, now: datetime,
            skew_s: int) -> tuple[UserOut, bool]:
    """Register a new user, validated as ingestion will validate the `users` record it
    lands as; (the registration, whether it is new). 409 for someone the live snapshot
    already holds, an erased id, or the same id signed up with other details."""
    created = body.created_at or now
    created = created if created.tzinfo is not None else created.replace(tzinfo=UTC)
    raw = pl.DataFrame({"user_id": [str(user)], "created_at": [created.isoformat()],
                        "birth_year": [None if body.birth_year is None else str(body.birth_year)],
                        "country": [body.country]}, schema={n: pl.String for n in _USERS.names})
    id_types = {d: ("BIGINT" if isinstance(user, int) else "VARCHAR")
                for d in {f.domain for f in _USERS.fields if f.domain is not None}}
    typed = coerce(raw, _USERS, id_types, now=now, skew_s=skew_s, source="POST /v1/users",
                   first_record_no=0).frame
    reason = typed["_reason"][0]
    if reason is not None:
        field = next((f.name for f in _USERS.fields if f"'{f.name}'" in reason), None)
        raise InvalidInputError(f"{reason}; nobody was signed up",
                                ("body", *([field] if field else [])))
    if snap is not None and user in snap.user_row:
        raise ConflictError(f"user {user!r} is already a user of this home")
    row, new = accounts.register(control, user,
                                 created_at=None if body.created_at is None
                                 else typed["created_at"][0],
                                 country=typed["country"][0], birth_year=typed["birth_year"][0],
                                 now=now)
    return UserOut(user_id=row["user_id"], created_at=row["created_at"], country=row["country"],
                   birth_year=row["birth_year"], registered_at=row["registered_at"],
                   landed=row["drained_at"] is not None), new


def erase_user(home: DataHome, control: Connection, user: UserId, *, now: datetime
               ) -> ErasureOut:
    hide = now + timedelta(days=home.settings.erasure_hide_days)
    done = erasure.erase(control, user, now=now, hide_until=hide)
    files = remove_media(home.root, done.media)
    return ErasureOut(user_id=user, erased_at=done.erased_at, removed=done.removed,
                      media_files=files, credits_closed=done.credits_closed, pending=_PENDING)


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _from_snapshot(snap, user: UserId) -> dict[str, object]:
    row = snap.user_row.get(user)
    if row is None:
        return {"snapshot": snap.directory.name, "known": False}
    seen = snap.item_ids_of(snap.seen.values[snap.seen.of(row)])
    regions = {n: r for r, n in snap.region_code.items()}
    countries = {n: c for c, n in snap.country_code.items()}
    return {
        "snapshot": snap.directory.name, "as_of": snap.as_of.isoformat(), "known": True,
        "declared_country": snap.user_country[row] or None,
        "home_country": countries.get(int(snap.user_country_code[row])),
        "home_region": regions.get(int(snap.user_region[row])),
        "taste_vector_from_chat": bool(snap.user_vector_from_chat[row]),
        "seen_count": len(seen), "seen_items": seen,
        "features": {name: _number(v) for name, v in
                     zip(snap.user_block_cols, snap.user_block[row], strict=True)},
    }


def export_user(control: Connection, snap, user: UserId, *, now: datetime) -> ExportOut:
    """What the control store and the live snapshot hold about `user`."""
    return ExportOut(user_id=user, exported_at=stamp(now), control=held_about(control, user),
                     snapshot=None if snap is None else _from_snapshot(snap, user))
