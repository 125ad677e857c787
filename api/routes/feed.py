"""GET /v1/feed: a ranked page for the caller (precomputed or online, policy re-applied
live; see `api.feed`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.admission import waited_ms
from api.deps import (
    USER_ID_QUERY,
    ActingUser,
    BearerDep,
    CodecDep,
    ControlDep,
    LiveDep,
    NowDep,
    StateDep,
    acting_user,
    resolve_caller,
)
from api.errors import ERROR_RESPONSES, NotReadyError
from api.following import following_page
from api.ids import IdCodec
from api.schemas import FeedItemOut, FeedOut, WhyOut
from api.why import explain

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feed"], responses=ERROR_RESPONSES)


@router.get("/feed", response_model=FeedOut)
async def get_feed(credentials: BearerDep, now: NowDep, state: StateDep,
                   request: Request, user_id: USER_ID_QUERY = None,
                   limit: Annotated[int | None, Query(ge=1, le=1_000)] = None,
                   cursor: Annotated[str | None, Query(max_length=512)] = None,
                   mode: Literal["for_you", "following"] = "for_you") -> Response:
    """The next page of the feed. `X-Reelrank-Feed` says whether it came from the batch's
    precomputed pages, was ranked online, or was served the cheap way because the server
    is overloaded (`degraded`: the request waited past its budget). `mode=following`: the
    Following tab, what the people the user follows made, newest first (`api.following`;
    each item's `score` is then its creation time, epoch seconds)."""
    # The hottest route makes one hop to a worker thread for all its blocking work (the
    # token, the erasure check, the page), where the shared dependencies would make four
    # (each plain `def` dependency and the endpoint hop on their own), at about 0.1 ms of
    # CPU each. The same checks as `ActingUser`, in the same order.
    degrade = waited_ms(request.scope) > state.home.settings.api_degrade_after_ms
    out, headers = await run_in_threadpool(_feed, credentials, now, state, user_id, limit,
                                           cursor, mode, degrade)
    # Serialized here, once: a returned model would be dumped to a dict and validated
    # again against `response_model` before being encoded (the documented shape is the same).
    return Response(out.model_dump_json(), media_type="application/json", headers=headers)


def _feed(credentials, now, state, user_id: str | None, limit: int | None,
          cursor: str | None, mode: str, degrade: bool) -> tuple[FeedOut, dict[str, str]]:
    settings = state.home.settings
    live = state.serving.current
    codec = live.codec if live is not None else IdCodec()
    with state.pool.connection() as control:
        user = acting_user(resolve_caller(credentials, control, codec), codec, control, user_id)
        if live is None:
            raise NotReadyError("no serving snapshot is loaded yet; see /readyz")
        if mode == "following":
            page = following_page(live.service, control, user,
                                  limit=limit or settings.api_page_default, cursor=cursor,
                                  now=now)
            kind = "following"
        else:
            page = live.service.page(control, user, limit=limit or settings.api_page_default,
                                     cursor=cursor, now=now, degrade=degrade)
            kind = ("degraded" if page.degraded else "precomputed" if page.precomputed
                    else "online")
    state.metrics.page_served(page.precomputed, page.removed, degraded=page.degraded)
    headers = {"X-Reelrank-Feed": kind, "X-Reelrank-Snapshot": live.name}
    return FeedOut(
        items=[FeedItemOut(item_id=i.item_id, score=i.score, source=i.source, reason=i.reason,
                           position=i.position) for i in page.items],
        cursor=page.cursor, remaining_today=page.remaining_today,
        request_id=page.request_id), headers


@router.get("/feed/items/{item_id}/why", response_model=WhyOut)
def get_why(item_id: Annotated[str, Path(max_length=128)], user: ActingUser, live: LiveDep,
            control: ControlDep, codec: CodecDep, now: NowDep) -> WhyOut:
    """Why this item would be in my feed: the sources that propose it to me now, its three
    largest positive contributions to the ranker's score (LightGBM's own attribution) in
    plain words with their values, my controls that apply, and whether the policy lets me
    see it."""
    return WhyOut(**explain(live.service, control, user, codec.item(item_id), now))
