"""The caller's own data: what is held about them (GET /v1/me/export) and erasing it all
(DELETE /v1/me). A service names the user with `?user_id=`, like every /v1/me route."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActingUser, ControlDep, NowDep, StateDep
from api.errors import ERROR_RESPONSES
from api.privacy import erase_user, export_user
from api.schemas import ErasureOut, ExportOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["privacy"], responses=ERROR_RESPONSES)


@router.get("/export", response_model=ExportOut)
def get_export(user: ActingUser, control: ControlDep, now: NowDep, state: StateDep
               ) -> ExportOut:
    """Everything reelrank holds about me: the live control-store state and what the
    serving snapshot holds (what I have seen, my features, my home region)."""
    live = state.serving.current
    return export_user(control, live.service.engine.snap if live is not None else None,
                       user, now=now)


@router.delete("", response_model=ErasureOut)
def delete_me(user: ActingUser, control: ControlDep, now: NowDep, state: StateDep
              ) -> ErasureOut:
    """Erase me from every store: at once online (this token stops working, my feed and
    videos are no longer served, my likeness leaves every video), the warehouse, snapshot
    and feeds at the next pipeline run. 409 while I am the guardian of linked children."""
    return erase_user(state.home, control, user, now=now)
