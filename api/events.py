"""Checking a batch of posted events exactly as ingestion will, and acknowledging only what
the pipeline will load.

- The `events` contract, applied by ingestion's own `coerce` to the same untyped values a
  JSON Lines landing file gives it: a batch with any invalid event is refused whole (422
  naming the event's index and field). So is one older than `api_event_max_age_days`: the
  API takes the app's live events; older logs come in through `reelrank ingest`/`import`,
  which keep their own times.
- Every user and item must be one the pipeline will find: in the live snapshot (which holds
  every user and item the warehouse had when it was exported), or made known since (a
  sign-up, `POST /v1/users`; a finished generation), and not erased (nor an item whose
  creator or anyone in it was erased). Otherwise 422 naming the event; before any snapshot
  is loaded an id the control store does not know is 503: the server cannot tell yet.
- An event is its user's (user, event id). A pair the warehouse already holds
  (`reelrank.event_keys`: the export of every ingest) is answered as a duplicate when its
  content is the same and refused with 409 when it is not; the inbox answers the same for
  the pairs it holds (`reelrank.control.inbox`). Within one batch, the same pair twice with
  different content is the request contradicting itself: 422, as before.

Nothing is stored for a refused batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from api.errors import ConflictError, InvalidInputError, NotReadyError
from api.ids import IdCodec
from api.schemas import EventIn
from reelrank.contracts import CONTRACTS
from reelrank.control.accounts import registered_among
from reelrank.control.connection import Connection
from reelrank.control.erasure import erased_among
from reelrank.control.items import generated_among
from reelrank.event_keys import KnownEvents, event_key, payload_digest
from reelrank.ingest.coerce import coerce

__all__ = ["check_known", "held_in_warehouse", "validate_events"]

_CONTRACT = CONTRACTS["events"]
_FIELD = re.compile(r"field '(\w+)'")


def _payload(n: int, event: EventIn) -> dict[str, object]:
    ts = event.ts if event.ts.tzinfo is not None else event.ts.replace(tzinfo=UTC)
    try:
        ts = ts.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(f"events[{n}].ts: {event.ts} is out of range",
                                ("body", "events", n, "ts")) from exc
    out = {**event.model_dump(exclude_none=True), "ts": ts.isoformat(timespec="microseconds")}
    return out


def _text(value: object) -> str | None:
    # What the JSON Lines reader hands validation: text as is, other scalars as JSON text.
    return value if value is None or isinstance(value, str) else json.dumps(value)


def validate_events(events: Sequence[EventIn], codec: IdCodec, *, now: datetime,
                    skew_s: int, max_events: int, max_age_days: float
                    ) -> list[dict[str, object]]:
    """The batch as contract-shaped payloads (user and item ids typed as the home types
    them), or `InvalidInputError` for the first bad one."""
    if len(events) > max_events:
        raise InvalidInputError(f"events: {len(events)} events in one batch; at most "
                                f"{max_events} are accepted", ("body", "events"))
    payloads = [_payload(n, e) for n, e in enumerate(events)]
    raw = pl.DataFrame({name: [_text(p.get(name)) for p in payloads] for name in _CONTRACT.names},
                       schema={name: pl.String for name in _CONTRACT.names})
    typed = coerce(raw, _CONTRACT, codec.id_types(), now=now, skew_s=skew_s,
                   source="POST /v1/events", first_record_no=0).frame
    bad = typed.filter(pl.col("_reason").is_not_null()).select("_record_no", "_reason")
    if bad.height:
        n, reason = bad.row(0)
        field = _FIELD.search(reason)
        more = f" ({bad.height - 1} more invalid events in this batch)" if bad.height > 1 else ""
        raise InvalidInputError(f"events[{n}]: {reason}{more}; nothing in this batch was stored",
                                ("body", "events", n, *([field.group(1)] if field else [])))
    oldest = now - timedelta(days=max_age_days)
    for n, ts in enumerate(typed["ts"].to_list()):
        if ts < oldest:
            raise InvalidInputError(
                f"events[{n}].ts: {ts.isoformat()} is more than {max_age_days:g} days old; "
                "the API takes recent events only (older logs keep their own times through "
                "`reelrank ingest` or `reelrank import`); nothing in this batch was stored",
                ("body", "events", n, "ts"))
    for n, (p, item) in enumerate(zip(payloads, typed["item_id"].to_list(), strict=True)):
        p["user_id"] = codec.user(p["user_id"], name=f"events[{n}].user_id")
        p["item_id"] = item
    seen: dict[object, int] = {}
    for n, p in enumerate(payloads):
        first = seen.setdefault((p["user_id"], str(p["event_id"])), n)
        if first != n and payloads[first] != p:
            raise InvalidInputError(
                f"events[{n}].event_id: {p['event_id']!r} repeats events[{first}] (the same "
                "user's) with different content", ("body", "events", n, "event_id"))
    return payloads


def _unknown(n: int, name: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"events[{n}].{name}: {message}; nothing in this batch was stored",
                             ("body", "events", n, name))


def check_known(control: Connection, snap, payloads: Sequence[dict[str, object]]) -> None:
    """Refuse the batch unless every user and item is one the pipeline will load. `snap`:
    the live `ServingSnapshot`, or None before one is loaded. A few indexed reads, each for
    the whole batch: the ids the snapshot does not hold, and who is erased."""
    users = {p["user_id"] for p in payloads}
    items = {p["item_id"] for p in payloads}
    in_snap_users = {u for u in users if snap is not None and u in snap.user_row}
    in_snap_items = {i: snap.item_row[i] for i in items
                     if snap is not None and i in snap.item_row}
    signed_up = registered_among(control, [u for u in users if u not in in_snap_users])
    generated = generated_among(control, [i for i in items if i not in in_snap_items])
    people: dict[object, set[object]] = {}  # item -> its creator and the people in it
    for item, row in in_snap_items.items():
        people[item] = {snap.item_creator_ids[row], *snap.cameo_owners.get(row, ())}
    for item, (creator, cameos) in generated.items():
        people[item] = {creator, *cameos}
    erased = erased_among(control, [*users, *(u for group in people.values() for u in group)])
    for n, p in enumerate(payloads):
        user, item = p["user_id"], p["item_id"]
        if user in erased:
            raise _unknown(n, "user_id", f"user {user!r} was erased")
        if user not in in_snap_users and user not in signed_up:
            if snap is None:
                raise NotReadyError(f"events[{n}].user_id: no serving snapshot is loaded yet, "
                                    f"so user {user!r} cannot be checked; retry shortly")
            raise _unknown(n, "user_id", f"unknown user {user!r} (not in the live snapshot "
                           "and not signed up since: POST /v1/users)")
        if item not in people:
            if snap is None:
                raise NotReadyError(f"events[{n}].item_id: no serving snapshot is loaded yet, "
                                    f"so item {item!r} cannot be checked; retry shortly")
            raise _unknown(n, "item_id", f"unknown item {item!r} (not in the live snapshot "
                           "and not generated since)")
        if people[item] & erased:
            raise _unknown(n, "item_id", f"item {item!r} was removed: its creator or someone "
                           "in it erased their account")


def held_in_warehouse(known: KnownEvents, payloads: Sequence[dict[str, object]]
                      ) -> list[bool]:
    """Which events the warehouse already holds with the same content (duplicates, not to be
    stored again); `ConflictError` naming the first it holds with other content."""
    if not len(known):
        return [False] * len(payloads)
    keys = np.fromiter((event_key(p["user_id"], p["event_id"]) for p in payloads),
                       dtype=np.int64, count=len(payloads))
    held, digests = known.lookup(keys)
    out = []
    for n, p in enumerate(payloads):
        if held[n] and int(digests[n]) != payload_digest(p):
            raise ConflictError(
                f"events[{n}]: event_id {p['event_id']!r} of user {p['user_id']!r} is already "
                "in the warehouse with other content; an event id names one event of its user "
                "for good, so nothing in this batch was stored")
        out.append(bool(held[n]))
    return out
