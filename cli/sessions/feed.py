"""What a simulated person scrolls: one interface, a live and a static implementation.

A feed answers a page request (the user, the cursor of the page before, none on a session's
first request) and takes the events of the page just watched, as the app posts them before
asking for the next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["Feed", "Served"]


@dataclass(frozen=True)
class Served:
    """One page: item ids in order, the cursor for the next page (None: the feed ended),
    and the scroll allowance left today when a guardian's limit applies."""

    items: list[object]
    cursor: str | None
    remaining_today: int | None = None


class Feed(Protocol):
    mode: str  # "live" or "static"

    def page(self, user_id: object, cursor: str | None, limit: int, at: datetime) -> Served:
        """The page after `cursor`, requested at `at`."""
        ...

    def post(self, events: list[dict[str, object]], at: datetime) -> None:
        """The events of a page, posted at `at` (after the last of them happened)."""
        ...
