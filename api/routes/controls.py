"""The user's own controls over their feed: steering in their words (/v1/me/steering),
mutes (/v1/me/mutes) and "see fewer like this" on an item (/v1/me/see-fewer). Each counts
from the next feed request (`api.steering`, `api.mutes`); none is used while a guardian has
personalization off (hard rule 2: that feed uses no per-user signal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import ActingUser, CodecDep, ControlDep, LiveDep, NowDep, StateDep
from api.errors import ERROR_RESPONSES
from api.mutes import add_user_mutes, mutes_out
from api.schemas_controls import (
    MutesIn,
    MutesOut,
    SeeFewerIn,
    SeeFewerOut,
    SteeringIn,
    SteeringOut,
)
from api.steering import put_steering, see_fewer, steering_out
from ranking.snapshot.view import view_of
from reelrank.control.controls import clear_steering, remove_mute

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["controls"], responses=ERROR_RESPONSES)


@router.put("/steering", response_model=SteeringOut)
def put_my_steering(body: SteeringIn, user: ActingUser, live: LiveDep, control: ControlDep,
                    now: NowDep, state: StateDep) -> SteeringOut:
    """Steer my feed in my words ("more skateboarding, less cooking, no pranks"): replaces
    what was set before. 'more' moves retrieval toward it and raises what is like it, 'less'
    sinks it, 'no' keeps its topic and anything close to the phrase out. 422 naming `text`
    when it is empty, too long or holds nothing understood (saying what was)."""
    return SteeringOut(**put_steering(control, state.phrases, live.service.engine.snap, user,
                                      body.text, now))


@router.get("/steering", response_model=SteeringOut)
def get_my_steering(user: ActingUser, control: ControlDep, now: NowDep) -> SteeringOut:
    """My steering as parsed (404 when none is set)."""
    return SteeringOut(**steering_out(control, user, now))


@router.delete("/steering", status_code=204, response_class=Response)
def delete_my_steering(user: ActingUser, control: ControlDep) -> Response:
    """Stop steering: the next page is ranked as if it had never been set."""
    clear_steering(control, user)  # 404 when none is set
    return Response(status_code=204)


@router.get("/mutes", response_model=MutesOut)
def get_mutes(user: ActingUser, control: ControlDep, now: NowDep) -> MutesOut:
    return MutesOut(**mutes_out(control, user, now))


@router.post("/mutes", response_model=MutesOut)
def post_mutes(body: MutesIn, user: ActingUser, live: LiveDep, control: ControlDep,
               now: NowDep, state: StateDep) -> MutesOut:
    """Mute words (never in a served caption or prompt: whole words, any case) and topics
    (never served); returns every mute I hold."""
    return MutesOut(**add_user_mutes(control, live.service.engine.snap, user, body.words,
                                     body.topics, state.home.settings, now))


@router.delete("/mutes/words/{word}", status_code=204, response_class=Response)
def delete_muted_word(word: Annotated[str, Path(max_length=500)], user: ActingUser,
                      control: ControlDep) -> Response:
    remove_mute(control, user, "word", word.strip().lower())  # 404 when not muted
    return Response(status_code=204)


@router.delete("/mutes/topics/{topic}", status_code=204, response_class=Response)
def delete_muted_topic(topic: Annotated[str, Path(max_length=500)], user: ActingUser,
                       control: ControlDep) -> Response:
    remove_mute(control, user, "topic", topic)  # 404 when not muted
    return Response(status_code=204)


@router.post("/see-fewer", response_model=SeeFewerOut, status_code=201)
def post_see_fewer(body: SeeFewerIn, user: ActingUser, live: LiveDep, control: ControlDep,
                   codec: CodecDep, now: NowDep, state: StateDep) -> SeeFewerOut:
    """See fewer like this item: its topic (the nearest, for a video too new to have one)
    and its creator sink in my feed for `see_fewer_hours` (404 for an item not served)."""
    service = live.service
    service.sync(control)
    view = view_of(service.engine.snap, service.items)
    return SeeFewerOut(**see_fewer(control, view, user, codec.item(body.item_id), now,
                                   state.home.settings.see_fewer_hours))
