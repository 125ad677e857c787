"""Liveness, readiness and Prometheus metrics; no authentication, no /v1 (infrastructure
probes them, not the app)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.metrics import CONTENT_TYPE
from api.schemas import Status

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Status)
def healthz() -> Status:
    """The process answers."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}})
def readyz(state: StateDep) -> Response:
    """Ready once a serving snapshot is loaded (503 before)."""
    live = state.serving.current
    if live is None:
        return JSONResponse(Status(status="no snapshot loaded").model_dump(), status_code=503)
    snap = live.service.engine.snap
    return JSONResponse(Status(
        status="ready", snapshot=live.name, as_of=snap.as_of.isoformat(),
        loaded_at=live.loaded_at.isoformat(),
        precomputed_users=live.service.precomputed_users).model_dump())


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
