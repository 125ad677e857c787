"""Checking a batch of posted events exactly as ingestion will: the `events` contract,
applied by ingestion's own `coerce` to the same untyped values a JSON Lines landing file
gives it. A batch with any invalid event is refused whole (422 naming the event's index
and field), so nothing is acknowledged that the pipeline would later quarantine for a
reason the caller could have been told about now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from api.errors import InvalidInputError
from api.ids import IdCodec
from api.schemas import EventIn
from reelrank.contracts import CONTRACTS
from reelrank.ingest.coerce import coerce

__all__ = ["validate_events"]

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
                    skew_s: int, max_events: int) -> list[dict[str, object]]:
    """The batch as contract-shaped payloads, or `InvalidInputError` for the first bad one."""
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
    seen: dict[object, int] = {}
    for n, p in enumerate(payloads):
        first = seen.setdefault(str(p["event_id"]), n)
        if first != n and payloads[first] != p:
            raise InvalidInputError(
                f"events[{n}].event_id: {p['event_id']!r} repeats events[{first}] with "
                "different content", ("body", "events", n, "event_id"))
    return payloads
