"""POST /v1/events: a batch of engagement events, acknowledged only once durable."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, CodecDep, ControlDep, NowDep, StateDep, own_events
from api.errors import ERROR_RESPONSES
from api.events import validate_events
from api.schemas import EventAck, EventBatch
from reelrank.control.inbox import accept_events

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["events"], responses=ERROR_RESPONSES)


@router.post("/events", response_model=EventAck)
def post_events(batch: EventBatch, caller: CallerDep, codec: CodecDep, control: ControlDep,
                now: NowDep, state: StateDep) -> EventAck:
    """Validated like ingestion validates them, then committed to the control store's inbox
    in one transaction before this answers. Re-sending an event id is harmless."""
    settings = state.home.settings
    payloads = validate_events(batch.events, codec, now=now, skew_s=settings.clock_skew_s,
                               max_events=settings.api_max_events_per_batch)
    own_events(caller, [p["user_id"] for p in payloads], codec)
    new, duplicates = accept_events(control, payloads, now=now)
    state.metrics.events.labels("new").inc(new)
    state.metrics.events.labels("duplicate").inc(duplicates)
    return EventAck(received=len(payloads), new=new, duplicates=duplicates)
