"""/v1/me/blocks: people the caller blocked (their videos and messages are refused)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import ActingUser, CodecDep, ControlDep, NowDep, not_erased
from api.errors import ERROR_RESPONSES, InvalidInputError
from api.schemas import BlockIn, BlockList, BlockOut
from reelrank.control.blocks import block, list_blocks, unblock

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["settings"], responses=ERROR_RESPONSES)


@router.get("/blocks", response_model=BlockList)
def get_blocks(user: ActingUser, control: ControlDep) -> BlockList:
    return BlockList(blocks=[BlockOut(**b) for b in list_blocks(control, user)])


@router.post("/blocks", response_model=BlockOut, status_code=201)
def post_block(body: BlockIn, user: ActingUser, control: ControlDep, codec: CodecDep,
               now: NowDep) -> BlockOut:
    blocked = codec.user(body.blocked_id, name="blocked_id")
    if blocked == user:
        raise InvalidInputError("blocked_id: a user cannot block themselves", ("blocked_id",))
    not_erased(control, blocked_id=blocked)
    return BlockOut(**block(control, user, blocked, now=now))


@router.delete("/blocks/{blocked_id}", status_code=204, response_class=Response)
def delete_block(blocked_id: Annotated[str, Path(max_length=128)], user: ActingUser,
                 control: ControlDep, codec: CodecDep) -> Response:
    unblock(control, user, codec.user(blocked_id, name="blocked_id"))  # 404 when not blocked
    return Response(status_code=204)
