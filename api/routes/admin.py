"""POST /v1/admin/reload: load the published snapshot now rather than at the next poll."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceCaller, StateDep
from api.errors import ERROR_RESPONSES, ConflictError
from api.schemas import ReloadOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.post("/reload", response_model=ReloadOut)
async def reload(_caller: ServiceCaller, state: StateDep) -> ReloadOut:
    """409 when the published snapshot is refused (the one being served stays)."""
    result = await state.serving.reload(force=True)
    if result.refused is not None:
        raise ConflictError(f"snapshot refused, still serving {result.snapshot}: "
                            f"{result.refused}")
    return ReloadOut(snapshot=result.snapshot, changed=result.changed)
