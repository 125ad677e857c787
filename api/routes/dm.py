"""GET /v1/dm/allowed: may one user message another? Answered by `ranking.policy.dm_allowed`
(both exist, blocks either way, each supervised side's guardian policy), with friendship
from the live snapshot's graph.

A user asks only about messages it would send, and is told only "allowed" or "not allowed":
why another account refuses (a block, a guardian's rule, no such account) is that account's
business, and telling it would let one token map every supervised account. A service (the
app's backend) asks about anyone and gets the whole reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from api.deps import CallerDep, CodecDep, ControlDep, LiveDep
from api.errors import ERROR_RESPONSES, ForbiddenError
from api.schemas import DmOut
from ranking.directory import Directory
from ranking.policy import dm_allowed
from ranking.snapshot.reader import ServingSnapshot

__all__ = ["router"]

router = APIRouter(prefix="/v1/dm", tags=["messages"], responses=ERROR_RESPONSES)


def friendship(snap: ServingSnapshot) -> Callable[[object, object], bool]:
    """`are_friends(a, b)` from the snapshot's friend lists (sorted per user, symmetric)."""
    def are_friends(a: object, b: object) -> bool:
        row_a, row_b = snap.user_row.get(a, -1), snap.user_row.get(b, -1)
        if row_a < 0 or row_b < 0:
            return False
        friends = snap.friends.values[snap.friends.of(row_b)]
        at = int(np.searchsorted(friends, row_a))
        return at < len(friends) and int(friends[at]) == row_a
    return are_friends


@router.get("/allowed", response_model=DmOut)
def get_allowed(caller: CallerDep, codec: CodecDep, control: ControlDep, live: LiveDep,
                sender: Annotated[str, Query(alias="from", max_length=128)],
                recipient: Annotated[str, Query(alias="to", max_length=128)]) -> DmOut:
    """A user may ask about messages they would send (`from` is the caller); a service
    about anyone."""
    a, b = codec.user(sender, name="from"), codec.user(recipient, name="to")
    if caller.scope != "service" and not (caller.scope == "user" and caller.subject == a):
        raise ForbiddenError("a user token may only ask about messages it would send "
                             "(from must be its own user)")
    snap = live.service.engine.snap
    decision = dm_allowed(control, a, b, friendship(snap), Directory.of(snap))
    return DmOut(allowed=decision.allowed,
                 reason=decision.reason if caller.scope == "service" else decision.told_sender)
