"""Cameo grants, as the likeness's owner: grant, revoke, list. A revocation removes the
grantee's videos showing the owner from every feed on the very next request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.appearances import appearances
from api.deps import ActingUser, CodecDep, ControlDep, LiveDep, NowDep, not_erased
from api.errors import ERROR_RESPONSES, InvalidInputError
from api.schemas import AppearanceList, AppearanceOut, GrantIn, GrantList, GrantOut
from reelrank.control import grants

__all__ = ["router"]

router = APIRouter(prefix="/v1/cameos", tags=["cameos"], responses=ERROR_RESPONSES)


@router.get("/grants", response_model=GrantList)
def list_grants(owner: ActingUser, control: ControlDep,
                include_revoked: Annotated[bool, Query()] = False) -> GrantList:
    rows = grants.list_grants(control, owner, include_revoked=include_revoked)
    return GrantList(grants=[GrantOut(**g) for g in rows])


@router.post("/grants", response_model=GrantOut, status_code=201)
def post_grant(body: GrantIn, owner: ActingUser, control: ControlDep, codec: CodecDep,
               now: NowDep) -> GrantOut:
    """Let `grantee_id` put my likeness in their videos (until I revoke it)."""
    grantee = codec.user(body.grantee_id, name="grantee_id")
    if grantee == owner:
        raise InvalidInputError("grantee_id: no grant is needed to use one's own likeness",
                                ("grantee_id",))
    not_erased(control, grantee_id=grantee)
    return GrantOut(**grants.grant(control, owner, grantee, now=now))


@router.delete("/grants/{grantee_id}", response_model=GrantOut)
def delete_grant(grantee_id: Annotated[str, Path(max_length=128)], owner: ActingUser,
                 control: ControlDep, codec: CodecDep, now: NowDep) -> GrantOut:
    """Revoke; videos by the grantee showing me leave every feed from the next request. 404
    when there is no live grant to revoke."""
    grantee = codec.user(grantee_id, name="grantee_id")
    return GrantOut(**grants.revoke(control, owner, grantee, now=now))


@router.get("/appearances", response_model=AppearanceList)
def list_appearances(user: ActingUser, control: ControlDep, live: LiveDep,
                     now: NowDep) -> AppearanceList:
    """Every video that shows my likeness: the snapshot's and today's generations, newest
    first, with whether feeds may show it right now and how often it was served this
    week. Revoke with `DELETE /v1/cameos/grants/{creator_id}`."""
    return AppearanceList(appearances=[AppearanceOut(**a) for a in
                                       appearances(live.service, control, user, now)])
