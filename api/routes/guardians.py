"""Guardian endpoints: a guardian manages the rules of the supervised children linked to
them; a service links and unlinks a guardian and a child (the app verifies who is whose
parent; a guardian cannot claim a child on their own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import (
    ActingGuardian,
    ChildDep,
    CodecDep,
    ControlDep,
    NowDep,
    ServiceCaller,
    not_erased,
)
from api.errors import ERROR_RESPONSES, InvalidInputError, NotFoundError
from api.ids import UserId
from api.schemas import (
    ChildList,
    ChildRules,
    ChildRulesPatch,
    LinkIn,
    OverrideIn,
)
from reelrank.control import guardians
from reelrank.control.connection import Connection

__all__ = ["router"]

router = APIRouter(prefix="/v1/guardian", tags=["guardians"], responses=ERROR_RESPONSES)


def _rules(control: Connection, child: UserId) -> ChildRules:
    rules = guardians.child_rules(control, child)
    if rules is None:
        raise NotFoundError(f"{child} is not a supervised account")
    return ChildRules(**rules)


@router.get("/children", response_model=ChildList)
def list_children(guardian: ActingGuardian, control: ControlDep) -> ChildList:
    return ChildList(children=[ChildRules(**r) for r in guardians.children_of(control, guardian)])


@router.get("/children/{child_id}", response_model=ChildRules)
def get_child(child: ChildDep, control: ControlDep) -> ChildRules:
    return _rules(control, child)


@router.patch("/children/{child_id}", response_model=ChildRules)
def patch_child(body: ChildRulesPatch, child: ChildDep, control: ControlDep, now: NowDep
                ) -> ChildRules:
    """Change personalization, the daily scroll limit (null: none) or the DM policy; the
    next feed or DM check already follows them."""
    changes = body.model_dump(include=body.model_fields_set)
    for name in ("personalization", "dm_policy"):
        if name in changes and changes[name] is None:
            raise InvalidInputError(f"{name}: cannot be null", (name,))
    guardians.update_rules(control, child, changes, now=now)
    return _rules(control, child)


@router.put("/children/{child_id}/override", response_model=ChildRules)
def put_override(body: OverrideIn, child: ChildDep, control: ControlDep, now: NowDep
                 ) -> ChildRules:
    """Allow `limit` items today (UTC) instead of the usual scroll limit."""
    guardians.set_override(control, child, body.limit, now=now)
    return _rules(control, child)


@router.delete("/children/{child_id}/override", response_model=ChildRules)
def delete_override(child: ChildDep, control: ControlDep, now: NowDep) -> ChildRules:
    guardians.set_override(control, child, None, now=now)
    return _rules(control, child)


@router.post("/links", response_model=ChildRules, status_code=201,
             responses={200: {"model": ChildRules, "description": "already linked"}})
def post_link(body: LinkIn, _caller: ServiceCaller, control: ControlDep, codec: CodecDep,
              now: NowDep, response: Response) -> ChildRules:
    """Link a child to a guardian (default rules); 200 when it already was."""
    guardian = codec.user(body.guardian_id, name="guardian_id")
    child = codec.user(body.child_id, name="child_id")
    if guardian == child:
        raise InvalidInputError("child_id: a user cannot be their own guardian", ("child_id",))
    not_erased(control, guardian_id=guardian, child_id=child)
    rules, created = guardians.link(control, guardian, child, now=now)
    if not created:
        response.status_code = 200
    return ChildRules(**rules)


@router.delete("/links/{child_id}", status_code=204, response_class=Response)
def delete_link(child_id: Annotated[str, Path(max_length=128)], _caller: ServiceCaller,
                control: ControlDep, codec: CodecDep, now: NowDep) -> Response:
    # 404 when not supervised; leaves a tombstone no older file can undo
    guardians.unlink(control, codec.user(child_id, name="child_id"), now=now)
    return Response(status_code=204)
