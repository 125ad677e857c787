"""One exception hierarchy; the CLI and the API translate it at the boundary."""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "ContractError",
    "HomeBusyError",
    "IngestError",
    "InsufficientCreditsError",
    "NotEnoughHistoryError",
    "NotFoundError",
    "ReelrankError",
    "SchemaMismatchError",
]


class ReelrankError(Exception):
    """Base class of every error reelrank raises on purpose."""


class ContractError(ReelrankError):
    """A whole input (file or request) breaks its data contract.

    Record-level problems do not raise: they become quarantine rows. This is for what makes a
    whole file unusable (a missing required column, an unreadable file).
    """


class SchemaMismatchError(ContractError):
    """An input's id type disagrees with what the warehouse already holds."""


class IngestError(ReelrankError):
    """Ingestion could not proceed (nothing was written)."""


class HomeBusyError(ReelrankError):
    """Another process holds the data home's write lock."""


class NotEnoughHistoryError(ReelrankError):
    """Too few days of events to train or evaluate; the pipeline goes on without it."""


class NotFoundError(ReelrankError):
    """The live state holds no such thing: no live grant to revoke, no block to lift, no
    supervised account by that id, no generation request by that id."""


class ConflictError(ReelrankError):
    """A change the live state refuses as it is now (a child already linked to another
    guardian); nothing was written."""


class InsufficientCreditsError(ConflictError):
    """A charge larger than the user's balance; nothing was written."""

    def __init__(self, user_id: object, balance: int, cost: int) -> None:
        super().__init__(f"insufficient credits: balance {balance} < cost {cost} "
                         f"for user {user_id!r}")
        self.balance = balance
        self.cost = cost
