"""GET /v1/feed: a ranked page for the caller (precomputed or online, policy re-applied
live; see `api.feed`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import ActingUser, ControlDep, LiveDep, NowDep, StateDep
from api.errors import ERROR_RESPONSES
from api.schemas import FeedItemOut, FeedOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feed"], responses=ERROR_RESPONSES)


@router.get("/feed", response_model=FeedOut)
def get_feed(user: ActingUser, live: LiveDep, control: ControlDep, now: NowDep,
             state: StateDep, response: Response,
             limit: Annotated[int | None, Query(ge=1, le=1_000)] = None,
             cursor: Annotated[str | None, Query(max_length=512)] = None) -> FeedOut:
    """The next page of the feed. `X-Reelrank-Feed` says whether it came from the batch's
    precomputed pages or was ranked online."""
    page = live.service.page(control, user, limit=limit or state.home.settings.api_page_default,
                             cursor=cursor, now=now)
    state.metrics.page_served(page.precomputed, page.removed)
    response.headers["X-Reelrank-Feed"] = "precomputed" if page.precomputed else "online"
    response.headers["X-Reelrank-Snapshot"] = live.name
    return FeedOut(
        items=[FeedItemOut(item_id=i.item_id, score=i.score, source=i.source, reason=i.reason,
                           position=i.position) for i in page.items],
        cursor=page.cursor, remaining_today=page.remaining_today, request_id=page.request_id)
