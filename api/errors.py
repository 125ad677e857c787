"""The API's errors, all `ReelrankError`s, and their translation into HTTP at the boundary.

The domain errors (`reelrank.errors`: what the control plane and the rest of reelrank raise)
are mapped here, in `_STATUS`, and nowhere else: `NotFoundError` 404, `ConflictError` (and so
`InsufficientCreditsError`) 409, `ContractError` 422, `HomeBusyError` 503, any other
`ReelrankError` 400. `NotFoundError` and `ConflictError` are re-exported for routes that raise
them themselves. The errors only the API has (401, 403, a 422 pointing at a field, 503 before a
snapshot is loaded, 410 for an erased user) are `ApiError`s carrying their status.

Every error answer has one shape, `{"detail": "<a sentence naming what was wrong>"}`, plus
`errors` (each with `loc` and `msg`) where a request broke its schema.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from reelrank.errors import (
    ConflictError,
    ContractError,
    HomeBusyError,
    NotFoundError,
    ReelrankError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "ConflictError",
    "ErrorOut",
    "ForbiddenError",
    "GoneError",
    "InvalidInputError",
    "NotFoundError",
    "NotReadyError",
    "UnauthorizedError",
    "install_handlers",
]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class ErrorOut(BaseModel):
    """Every error answer: a sentence naming what was wrong (and, for a request that broke
    its schema, each problem with where it is)."""

    detail: str
    errors: list[ErrorItem] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut, "description": text} for code, text in (
        (400, "a request this server cannot act on"), (401, "no valid bearer token"),
        (403, "the token's scope does not allow it"), (404, "no such thing"),
        (409, "conflicts with the current state"), (410, "the user was erased"),
        (413, "body too large"),
        (422, "the request breaks its schema or a data contract"),
        (503, "no serving snapshot loaded yet"))}


class ApiError(ReelrankError):
    """An error with the HTTP status it answers with."""

    status = 400


class UnauthorizedError(ApiError):
    status = 401


class ForbiddenError(ApiError):
    status = 403


class GoneError(ApiError):
    """The user a request acts for was erased."""

    status = 410


class InvalidInputError(ApiError):
    """A request that parsed but breaks a rule; `loc` points at the offending field."""

    status = 422

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class NotReadyError(ApiError):
    status = 503


# Domain errors by the HTTP status they answer with; the first class that matches wins.
_STATUS: tuple[tuple[type[ReelrankError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (ContractError, 422),
    (HomeBusyError, 503),
)


def _status(exc: ReelrankError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    # Anything else reelrank raises on purpose while serving a request is about the
    # request itself (a cursor this server never issued, messaging oneself).
    return 400


def _where(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _reelrank(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReelrankError)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, InvalidInputError) and exc.loc:
        body["errors"] = [{"loc": list(exc.loc), "msg": str(exc)}]
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
    return JSONResponse(body, status_code=_status(exc), headers=headers)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"),
               "type": e.get("type", "")} for e in exc.errors()]
    detail = "; ".join(f"{_where(tuple(e['loc']))}: {e['msg']}" for e in errors)
    return JSONResponse({"detail": detail or "invalid request", "errors": errors},
                        status_code=422)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ReelrankError, _reelrank)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
