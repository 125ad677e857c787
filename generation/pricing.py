"""What a new generation costs: free within the daily allowance; beyond it, credits only
while demand is high.

The policy (issue #6): the allowance is what each user gets for free every UTC day. Past it, a
generation is still free while the queue keeps up, because it then displaces nobody; it costs
`generation_credit_cost` only while demand is high, i.e. more than `generation_busy_queue_depth`
requests are queued or the oldest queued one has waited more than `generation_busy_wait_s`.
The quote's reason says which of these applied, in words an app can show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from reelrank.control.connection import Connection
from reelrank.control.queue import count_requests, demand
from reelrank.settings import Settings

__all__ = ["Demand", "Quote", "current_demand", "generations_today", "quote"]


@dataclass(frozen=True)
class Demand:
    """The queue right now: requests waiting, and how long the oldest has waited."""

    queued: int
    oldest_wait_s: float

    def high_because(self, settings: Settings) -> list[str]:
        """Why demand is high (empty when it is not)."""
        why = []
        if self.queued > settings.generation_busy_queue_depth:
            why.append(f"{self.queued} queued > {settings.generation_busy_queue_depth}")
        if self.oldest_wait_s > settings.generation_busy_wait_s:
            why.append(f"oldest queued waited {self.oldest_wait_s:.0f}s > "
                       f"{settings.generation_busy_wait_s:g}s")
        return why


@dataclass(frozen=True)
class Quote:
    cost: int
    reason: str


# What counts against the allowance: a refused or failed generation gives its slot back.
_COUNTED = ("queued", "running", "done")


def current_demand(con: Connection, now: datetime) -> Demand:
    queued, oldest = demand(con)
    wait = 0.0
    if oldest is not None:
        wait = max(0.0, (now - oldest).total_seconds())
    return Demand(queued=queued, oldest_wait_s=wait)


def generations_today(con: Connection, requester_id: object, now: datetime) -> int:
    """The requester's generations this UTC day that count against the allowance: those
    queued, running or done (a refused or failed one gives its slot back)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return count_requests(con, requester_id, since=midnight, statuses=_COUNTED)


def quote(con: Connection, settings: Settings, requester_id: object,
          now: datetime) -> Quote:
    """The price of one more generation by `requester_id` at `now`."""
    allowance = settings.generation_free_per_day
    used = generations_today(con, requester_id, now)
    if used < allowance:
        return Quote(0, f"free: generation {used + 1} of {allowance}/day")
    demand = current_demand(con, now)
    busy = demand.high_because(settings)
    if not busy:
        return Quote(0, f"free: over free allowance {allowance}/day, but demand is normal "
                        f"({demand.queued} queued)")
    return Quote(settings.generation_credit_cost,
                 f"high demand: {', '.join(busy)}; over free allowance {allowance}/day")
