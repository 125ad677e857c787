"""Accounts, for the app's backend (service tokens): sign a new user up, erase one.

A sign-up is known at once (its events, settings and generations are accepted from the next
request) and lands in the warehouse at the next pipeline run; an erasure takes effect at once
online and in the warehouse at the next run (see `api.privacy`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import CodecDep, ControlDep, NowDep, ServiceCaller, StateDep
from api.errors import ERROR_RESPONSES
from api.privacy import erase_user, sign_up
from api.schemas import ErasureOut, UserIn, UserOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/users", tags=["accounts"], responses=ERROR_RESPONSES)


@router.post("", response_model=UserOut, status_code=201,
             responses={200: {"model": UserOut, "description": "already signed up"}})
def post_user(body: UserIn, _caller: ServiceCaller, codec: CodecDep, control: ControlDep,
              now: NowDep, state: StateDep, response: Response) -> UserOut:
    """Sign a new user up: durable before this answers (201); the same sign-up again is
    200; 409 for an existing or erased user, or the same id with other details."""
    user = codec.user(body.user_id, name="user_id")
    live = state.serving.current
    out, new = sign_up(control, live.service.engine.snap if live is not None else None, body,
                       user, now=now, skew_s=state.home.settings.clock_skew_s)
    if not new:
        response.status_code = 200
    return out


@router.delete("/{user_id}", response_model=ErasureOut)
def delete_user(user_id: Annotated[str, Path(max_length=128)], _caller: ServiceCaller,
                codec: CodecDep, control: ControlDep, now: NowDep, state: StateDep
                ) -> ErasureOut:
    """Erase a user from every store (at once online; the warehouse, snapshot and feeds at
    the next pipeline run). 409 for a guardian with linked children (unlink first) or a
    user already erased."""
    return erase_user(state.home, control, codec.user(user_id, name="user_id"), now=now)
