"""Submitting a generation request and asking after it.

Submission decides everything that can be decided at once, in one write transaction: cameo
consent (refused, naming who lacks it), the price (`pricing.quote`) and the charge. The request
is then recorded, queued or refused, and its id returned; rendering happens later in a worker.
A client may pass its own `request_id` as an idempotency key: resubmitting it returns the first
answer and never charges twice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from generation._common import Clock, utc_now
from generation.consent import missing_consent, refusal_reason
from generation.pricing import quote
from reelrank.control.connection import Connection, transaction
from reelrank.control.credits import charge, charged_for
from reelrank.control.queue import get_request, insert_request
from reelrank.errors import ContractError, InsufficientCreditsError, NotFoundError
from reelrank.settings import Settings

__all__ = [
    "GenerationStatus",
    "InvalidGenerationRequestError",
    "SubmitResult",
    "UnknownGenerationError",
    "generation_status",
    "submit_generation",
]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class InvalidGenerationRequestError(ContractError):
    """A request that breaks its contract (empty prompt, bad id); nothing was recorded."""


class UnknownGenerationError(NotFoundError):
    """No generation request has this id."""


@dataclass(frozen=True)
class SubmitResult:
    request_id: str
    status: str
    charged: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class GenerationStatus:
    request_id: str
    requester_id: object
    status: str
    reason: str | None
    attempts: int
    charged: int
    item_id: object
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_id(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise InvalidGenerationRequestError(f"{what} must be an integer or a non-empty string, "
                                            f"got {value!r}")


def _validate(settings: Settings, requester_id: object, prompt: object,
              cameo_user_ids: Sequence[object], remix_of: object, request_id: str | None
              ) -> list[object]:
    _check_id(requester_id, "requester_id")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidGenerationRequestError(f"prompt must be non-empty text, got {prompt!r}")
    if len(prompt) > settings.generation_prompt_max_chars:
        raise InvalidGenerationRequestError(
            f"prompt has {len(prompt)} characters, more than the "
            f"{settings.generation_prompt_max_chars} allowed")
    cameos = list(dict.fromkeys(cameo_user_ids))  # a repeated cameo asks nothing new
    for cameo in cameos:
        _check_id(cameo, "each cameo user id")
    if len(cameos) > settings.generation_max_cameos:
        raise InvalidGenerationRequestError(
            f"{len(cameos)} cameos, more than the {settings.generation_max_cameos} allowed")
    if remix_of is not None:
        _check_id(remix_of, "remix_of")
    if request_id is not None and not _REQUEST_ID.match(request_id):
        raise InvalidGenerationRequestError(
            f"request_id must be 1-128 letters, digits, '-' or '_', got {request_id!r}")
    return cameos


def _resubmitted(con: Connection, request_id: str, requester_id: object, prompt: str
                 ) -> SubmitResult | None:
    row = get_request(con, request_id)
    if row is None:
        return None
    if row["requester_id"] != requester_id or row["prompt"] != prompt:
        raise InvalidGenerationRequestError(
            f"request_id {request_id!r} is already used by a different request")
    return SubmitResult(request_id, row["status"], charged_for(con, request_id),
                        row["reason"] or "")


def submit_generation(control: Connection, settings: Settings, *, requester_id: object,
                      prompt: str, cameo_user_ids: Sequence[object] = (),
                      remix_of: object = None, request_id: str | None = None,
                      clock: Clock = utc_now) -> SubmitResult:
    """Record a generation request; returns at once with its id, status, charge and reason."""
    cameos = _validate(settings, requester_id, prompt, cameo_user_ids, remix_of, request_id)
    request_id = request_id or uuid.uuid4().hex
    now = clock()
    with transaction(control):
        earlier = _resubmitted(control, request_id, requester_id, prompt)
        if earlier is not None:
            return earlier
        missing = missing_consent(control, requester_id, cameos)
        status, charged = "queued", 0
        if missing:
            status, reason = "refused", refusal_reason(missing, requester_id)
        else:
            price = quote(control, settings, requester_id, now)
            reason = price.reason
            try:
                charged = charge(control, requester_id, request_id, price.cost, now=now)
            except InsufficientCreditsError as exc:
                status, reason = "refused", f"{exc}; {price.reason}"
        insert_request(control, request_id=request_id, requester_id=requester_id,
                       prompt=prompt, cameo_user_ids=cameos, remix_of=remix_of, status=status,
                       reason=reason, now=now)
    return SubmitResult(request_id, status, charged, reason)


def generation_status(control: Connection, request_id: str) -> GenerationStatus:
    """Where a request stands; `reason` says why it was refused or failed (or, while queued or
    done, how it was priced)."""
    row = get_request(control, request_id)
    if row is None:
        raise UnknownGenerationError(f"no generation request {request_id!r}")
    return GenerationStatus(request_id=row["request_id"], requester_id=row["requester_id"],
                            status=row["status"], reason=row["reason"],
                            attempts=int(row["attempts"]),
                            charged=charged_for(control, request_id), item_id=row["item_id"],
                            created_at=row["created_at"], updated_at=row["updated_at"])
