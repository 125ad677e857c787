"""Generation requests: submit (answered at once with the id, the charge and why) and
follow. Who and what exists (the requester, the cameos, the remixed item: the served
snapshot's, or registered since), consent, quotas and credits are decided by `generation`;
the worker (`reelrank worker`) does the rest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import ActingUser, CodecDep, ControlDep, StateDep
from api.errors import ERROR_RESPONSES, InvalidInputError, NotFoundError
from api.schemas import Id, _Request
from generation.requests import (
    UnknownGenerationError,
    generation_status,
    submit_generation,
)
from ranking.directory import Directory
from reelrank.errors import ContractError

__all__ = ["router"]

router = APIRouter(prefix="/v1/generations", tags=["generations"], responses=ERROR_RESPONSES)


class GenerationIn(_Request):
    prompt: Annotated[str, Field(min_length=1, max_length=100_000)]
    cameo_user_ids: Annotated[list[Id], Field(default_factory=list, max_length=100)]
    remix_of: Id | None = None
    request_id: Annotated[str | None, Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="optional idempotency key: resubmitting it returns the first answer")] = None


class SubmitOut(BaseModel):
    request_id: str
    status: str
    charged: int = Field(description="credits charged for this request")
    reason: str = Field(description="why it was charged (or free), or why it was refused")


class GenerationOut(BaseModel):
    request_id: str
    status: str = Field(description="queued, running, done, refused or failed")
    reason: str | None
    attempts: int
    charged: int
    item_id: Id | None
    created_at: str
    updated_at: str


@router.post("", response_model=SubmitOut, status_code=202)
def post_generation(body: GenerationIn, user: ActingUser, control: ControlDep,
                    codec: CodecDep, state: StateDep) -> SubmitOut:
    """Queue a generation (or refuse it: someone or the remixed item unknown, a cameo
    without a live grant, no credits)."""
    cameos = [codec.user(c, name=f"cameo_user_ids.{n}")
              for n, c in enumerate(body.cameo_user_ids)]
    remix_of = None if body.remix_of is None else codec.item(body.remix_of, name="remix_of")
    live = state.serving.current
    try:
        result = submit_generation(
            control, state.home.settings, requester_id=user, prompt=body.prompt,
            cameo_user_ids=cameos, remix_of=remix_of, request_id=body.request_id,
            clock=state.clock,
            directory=Directory.of(live.service.engine.snap) if live is not None else None)
    except ContractError as exc:
        raise InvalidInputError(str(exc)) from exc
    return SubmitOut(**result.as_dict())


@router.get("/{request_id}", response_model=GenerationOut)
def get_generation(request_id: Annotated[str, Path(max_length=64)], user: ActingUser,
                   control: ControlDep) -> GenerationOut:
    try:
        status = generation_status(control, request_id)
    except UnknownGenerationError as exc:
        raise NotFoundError(f"no generation request {request_id!r}") from exc
    if status.requester_id != user:  # another user's request is not even confirmed to exist
        raise NotFoundError(f"no generation request {request_id!r}")
    return GenerationOut(**{k: v for k, v in status.as_dict().items() if k != "requester_id"})
