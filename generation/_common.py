"""The clock shared by the generation modules. The control store's transaction helper and
timestamp format are `reelrank.control.connection`'s (`transaction`, `stamp`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)
