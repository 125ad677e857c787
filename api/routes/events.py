"""POST /v1/events: a batch of engagement events, acknowledged only once durable, and only
what the pipeline will load (see `api.events`)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from api.deps import CallerDep, CodecDep, ControlDep, NowDep, StateDep, own_events
from api.errors import ERROR_RESPONSES
from api.events import check_known, held_in_warehouse, validate_events
from api.schemas import EventAck, EventBatch
from reelrank.control.inbox import accept_events

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["events"], responses=ERROR_RESPONSES)


@router.post("/events", response_model=EventAck)
def post_events(batch: EventBatch, caller: CallerDep, codec: CodecDep, control: ControlDep,
                now: NowDep, state: StateDep) -> EventAck:
    """Validated like ingestion validates them, checked against the users and items the
    pipeline knows, then committed to the control store's inbox in one transaction before
    this answers. Re-sending an event is harmless (a duplicate); reusing a user's event id
    for other content is a 409."""
    settings = state.home.settings
    payloads = validate_events(batch.events, codec, now=now, skew_s=settings.clock_skew_s,
                               max_events=settings.api_max_events_per_batch,
                               max_age_days=settings.api_event_max_age_days)
    own_events(caller, [p["user_id"] for p in payloads], codec)
    live = state.serving.current
    check_known(control, live.service.engine.snap if live is not None else None, payloads)
    held = held_in_warehouse(state.known_events.current(time.monotonic()), payloads)
    new, repeated = accept_events(control, [p for p, h in zip(payloads, held, strict=True)
                                            if not h], now=now)
    duplicates = repeated + sum(held)
    state.metrics.events.labels("new").inc(new)
    state.metrics.events.labels("duplicate").inc(duplicates)
    return EventAck(received=len(payloads), new=new, duplicates=duplicates)
