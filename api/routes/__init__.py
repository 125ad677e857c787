"""One router per resource; `ROUTERS` is what the app mounts, in documentation order."""

from __future__ import annotations

from api.routes import (
    admin,
    blocks,
    cameos,
    controls,
    dm,
    events,
    feed,
    generations,
    guardians,
    health,
    me,
    settings,
    users,
)

__all__ = ["ROUTERS"]

ROUTERS = tuple(m.router for m in (feed, events, settings, controls, blocks, guardians,
                                   cameos, dm, generations, users, me, admin, health))
