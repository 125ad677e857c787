"""Every dependency a route declares: the app's state, a control-store connection per
request, the clock, the live snapshot, and who the caller is and what they may touch.

Scopes: a `user` token acts for its user only; a `guardian` token manages the children
linked to its guardian; a `service` token (the app's backend) acts for anyone, naming the
user with `?user_id=`. Nobody acts for an erased user (410).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import (
    ForbiddenError,
    GoneError,
    InvalidInputError,
    NotFoundError,
    NotReadyError,
    UnauthorizedError,
)
from api.ids import IdCodec, UserId
from api.metrics import Metrics
from api.pool import ControlPool
from api.serving import Live, Serving
from api.steering import PhraseEmbedder
from reelrank.control.connection import Connection
from reelrank.control.erasure import erased_among, is_erased
from reelrank.control.guardians import child_rules
from reelrank.control.tokens import Caller, lookup_token
from reelrank.event_keys import KnownEventsFile
from reelrank.home import DataHome

__all__ = [
    "USER_ID_QUERY", "ActingGuardian", "ActingUser", "ApiState", "BearerDep", "CallerDep",
    "ChildDep", "CodecDep", "ControlDep", "LiveDep", "NowDep", "ServiceCaller", "StateDep",
    "acting_user", "not_erased", "own_events", "resolve_caller",
]


# Dependencies that only read memory are `async def`: FastAPI runs a plain `def` dependency
# on a worker thread, and each hop costs more than these do. Those that touch SQLite stay
# `def`, off the event loop.


@dataclass(frozen=True)
class ApiState:
    home: DataHome
    serving: Serving
    metrics: Metrics
    pool: ControlPool
    clock: Callable[[], datetime]
    known_events: KnownEventsFile  # the events the warehouse held at the last ingest
    phrases: PhraseEmbedder  # steering phrases, embedded by the catalog's model


async def _state(request: Request) -> ApiState:
    return request.app.state.api


StateDep = Annotated[ApiState, Depends(_state)]


def _control(state: StateDep) -> Iterator[Connection]:
    with state.pool.connection() as control:
        yield control


async def _now(state: StateDep) -> datetime:
    return state.clock()


async def _live(state: StateDep) -> Live:
    live = state.serving.current
    if live is None:
        raise NotReadyError("no serving snapshot is loaded yet; see /readyz")
    return live


async def _codec(state: StateDep) -> IdCodec:
    live = state.serving.current
    return live.codec if live is not None else IdCodec()


ControlDep = Annotated[Connection, Depends(_control)]
NowDep = Annotated[datetime, Depends(_now)]
LiveDep = Annotated[Live, Depends(_live)]
CodecDep = Annotated[IdCodec, Depends(_codec)]

_bearer = HTTPBearer(auto_error=False, description="a token from `reelrank tokens create`")


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_USER_ID_HELP = "service tokens only: whom for"


def resolve_caller(credentials: HTTPAuthorizationCredentials | None, control: Connection,
                   codec: IdCodec) -> Caller:
    """Who holds this bearer token (401 when there is none, or it is unknown or revoked)."""
    if credentials is None:
        raise UnauthorizedError("missing bearer token (Authorization: Bearer <token>)")
    caller = lookup_token(control, credentials.credentials)
    if caller is None:
        raise UnauthorizedError("unknown or revoked token")
    if caller.scope == "service":
        return caller
    try:
        return Caller(caller.scope, codec.user(caller.subject), caller.label)
    except InvalidInputError as exc:
        raise ForbiddenError(f"this token's subject is not a user of this home: {exc}") \
            from exc


def _caller(credentials: BearerDep, control: ControlDep, codec: CodecDep) -> Caller:
    return resolve_caller(credentials, control, codec)


CallerDep = Annotated[Caller, Depends(_caller)]


def acting_user(caller: Caller, codec: IdCodec, control: Connection, user_id: str | None
                ) -> UserId:
    """The user a request acts for: a user token's own, or the one a service names; 410
    for an erased user (their own tokens went with them, a service's still reach here)."""
    if caller.scope == "user":
        if user_id is not None and codec.user(user_id) != caller.subject:
            raise ForbiddenError("a user token acts only for its own user")
        user = caller.subject
    elif caller.scope == "service":
        if user_id is None:
            raise InvalidInputError("user_id: a service token must name the user", ("user_id",))
        user = codec.user(user_id)
    else:
        raise ForbiddenError(f"a {caller.scope} token cannot act as a user")
    if is_erased(control, user):
        raise GoneError(f"user {user!r} was erased; nothing is served or kept for them")
    return user


USER_ID_QUERY = Annotated[str | None, Query(max_length=128, description=_USER_ID_HELP)]


def _acting_user(caller: CallerDep, codec: CodecDep, control: ControlDep,
                 user_id: USER_ID_QUERY = None) -> UserId:
    return acting_user(caller, codec, control, user_id)


ActingUser = Annotated[UserId, Depends(_acting_user)]


async def _acting_guardian(caller: CallerDep, codec: CodecDep, guardian_id: Annotated[
        str | None, Query(max_length=128, description="service tokens only: whose")] = None
                     ) -> UserId:
    """The guardian a request acts for: a guardian token's own, or the one a service names."""
    if caller.scope == "guardian":
        if guardian_id is not None and codec.user(guardian_id, name="guardian_id") \
                != caller.subject:
            raise ForbiddenError("a guardian token acts only for its own guardian")
        return caller.subject
    if caller.scope == "service":
        if guardian_id is None:
            raise InvalidInputError("guardian_id: a service token must name the guardian",
                                    ("guardian_id",))
        return codec.user(guardian_id, name="guardian_id")
    raise ForbiddenError(f"a {caller.scope} token cannot act as a guardian")


ActingGuardian = Annotated[UserId, Depends(_acting_guardian)]


async def _service(caller: CallerDep) -> Caller:
    if caller.scope != "service":
        raise ForbiddenError(f"this needs a service token, not a {caller.scope} token")
    return caller


ServiceCaller = Annotated[Caller, Depends(_service)]


def _child(child_id: Annotated[str, Path(max_length=128)], caller: CallerDep,
           control: ControlDep, codec: CodecDep) -> UserId:
    """A supervised child the caller may manage: their own (guardian), or any (service)."""
    if caller.scope not in ("guardian", "service"):
        raise ForbiddenError("only the child's guardian (or a service) manages parental rules")
    child = codec.user(child_id, name="child_id")
    rules = child_rules(control, child)
    if caller.scope == "guardian" and (rules is None or rules["guardian_id"] != caller.subject):
        # The same answer for "not your child" and "not supervised": no probing who is.
        raise ForbiddenError(f"{child} is not a child linked to this guardian")
    if rules is None:
        raise NotFoundError(f"{child} is not a supervised account")
    return child


ChildDep = Annotated[UserId, Depends(_child)]


def own_events(caller: Caller, users: list[UserId], codec: IdCodec) -> None:
    """A user token posts only its own user's events; a service posts anyone's."""
    if caller.scope == "service":
        return
    if caller.scope != "user":
        raise ForbiddenError(f"a {caller.scope} token cannot post events")
    for n, user in enumerate(users):
        if codec.user(user, name=f"events[{n}].user_id") != caller.subject:
            raise ForbiddenError(f"events[{n}].user_id: a user token posts only its own events")


def not_erased(control: Connection, **users: UserId) -> None:
    """410 naming the field when a request would write a row about an erased user (a grant
    to them, a block of them, a guardian link): erasure is not undone by someone else."""
    gone = erased_among(control, list(users.values()))
    for name, user in users.items():
        if user in gone:
            raise GoneError(f"{name}: user {user!r} was erased")
