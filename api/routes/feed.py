"""GET /v1/feed: a ranked page for the caller (precomputed or online, policy re-applied
live; see `api.feed`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.admission import waited_ms
from api.deps import ActingUser, CodecDep, ControlDep, LiveDep, NowDep, StateDep
from api.errors import ERROR_RESPONSES
from api.following import following_page
from api.schemas import FeedItemOut, FeedOut, WhyOut
from api.why import explain

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feed"], responses=ERROR_RESPONSES)


@router.get("/feed", response_model=FeedOut)
def get_feed(user: ActingUser, live: LiveDep, control: ControlDep, now: NowDep,
             state: StateDep, request: Request, response: Response,
             limit: Annotated[int | None, Query(ge=1, le=1_000)] = None,
             cursor: Annotated[str | None, Query(max_length=512)] = None,
             mode: Literal["for_you", "following"] = "for_you") -> FeedOut:
    """The next page of the feed. `X-Reelrank-Feed` says whether it came from the batch's
    precomputed pages, was ranked online, or was served the cheap way because the server
    is overloaded (`degraded`: the request waited past its budget). `mode=following`: the
    Following tab, what the people the user follows made, newest first (`api.following`;
    each item's `score` is then its creation time, epoch seconds)."""
    settings = state.home.settings
    if mode == "following":
        page = following_page(live.service, control, user,
                              limit=limit or settings.api_page_default, cursor=cursor, now=now)
        response.headers["X-Reelrank-Feed"] = "following"
    else:
        degrade = waited_ms(request.scope) > settings.api_degrade_after_ms
        page = live.service.page(control, user, limit=limit or settings.api_page_default,
                                 cursor=cursor, now=now, degrade=degrade)
        response.headers["X-Reelrank-Feed"] = ("degraded" if page.degraded else "precomputed"
                                               if page.precomputed else "online")
    state.metrics.page_served(page.precomputed, page.removed, degraded=page.degraded)
    response.headers["X-Reelrank-Snapshot"] = live.name
    return FeedOut(
        items=[FeedItemOut(item_id=i.item_id, score=i.score, source=i.source, reason=i.reason,
                           position=i.position) for i in page.items],
        cursor=page.cursor, remaining_today=page.remaining_today, request_id=page.request_id)


@router.get("/feed/items/{item_id}/why", response_model=WhyOut)
def get_why(item_id: Annotated[str, Path(max_length=128)], user: ActingUser, live: LiveDep,
            control: ControlDep, codec: CodecDep, now: NowDep) -> WhyOut:
    """Why this item would be in my feed: the sources that propose it to me now, its three
    largest positive contributions to the ranker's score (LightGBM's own attribution) in
    plain words with their values, my controls that apply, and whether the policy lets me
    see it."""
    return WhyOut(**explain(live.service, control, user, codec.item(item_id), now))
