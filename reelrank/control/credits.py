"""The credit ledger: append-only rows of signed deltas; a balance is their sum.

A generation's charge and its refund are keyed by (request_id, reason) under the ledger's
UNIQUE constraint, so a retried charge or refund (a client resubmitting, a worker re-running
after a crash) lands at most once. The store's triggers (control migration 2) refuse updates,
deletes, and any debit that would take a balance below zero, whoever writes; `charge`
refuses one first, with `InsufficientCreditsError` (a `reelrank.errors.ConflictError`).
Erasing a user (`reelrank.control.erasure`) rewrites none of it: `close_account` appends one
entry that brings their balance to zero.
"""

from __future__ import annotations

from datetime import datetime

from reelrank.control.connection import Connection, rows_as_dicts, stamp
from reelrank.errors import InsufficientCreditsError

__all__ = [
    "CHARGE",
    "ERASURE",
    "REFUND",
    "TOP_UP",
    "InsufficientCreditsError",
    "add_credits",
    "balance",
    "charge",
    "charged_for",
    "close_account",
    "entries",
    "refund",
]

CHARGE = "generation"
REFUND = "refund"
TOP_UP = "top-up"
ERASURE = "erasure"


def balance(con: Connection, user_id: object) -> int:
    (total,) = con.execute("SELECT coalesce(sum(delta), 0) FROM credit_ledger WHERE user_id = ?",
                           [user_id]).fetchone()
    return int(total)


def charged_for(con: Connection, request_id: str) -> int:
    """Credits a request costs now: its charge less its refund (0 when free or refunded)."""
    (net,) = con.execute(
        "SELECT coalesce(-sum(delta), 0) FROM credit_ledger WHERE request_id = ? "
        "AND reason IN (?, ?)", [request_id, CHARGE, REFUND]).fetchone()
    return int(net)


def add_credits(con: Connection, user_id: object, amount: int, *, now: datetime,
                reference: str | None = None) -> bool:
    """Credit a purchase or grant. `reference` (e.g. the payment id) goes in the ledger's
    request_id column, making a retried top-up a no-op; returns whether a row was added."""
    if amount <= 0:
        raise ValueError(f"a top-up must be positive, got {amount}")
    cur = con.execute(
        "INSERT INTO credit_ledger (user_id, delta, reason, request_id, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id, reason) DO NOTHING",
        [user_id, amount, TOP_UP, reference, stamp(now)])
    return cur.rowcount == 1


def charge(con: Connection, user_id: object, request_id: str, amount: int, *,
           now: datetime) -> int:
    """Debit `amount` for `request_id` once; returns what the request is charged.

    Must run inside the caller's write transaction (`connection.transaction`), so the
    balance read is still true when the debit is written. A request already charged is not
    charged again.
    """
    if not con.in_transaction:
        raise RuntimeError("charge() must run inside a write transaction")
    if amount < 0:
        raise ValueError(f"a charge must not be negative, got {amount}")
    row = con.execute("SELECT -delta FROM credit_ledger WHERE request_id = ? AND reason = ?",
                      [request_id, CHARGE]).fetchone()
    if row is not None:
        return int(row[0])
    if amount == 0:
        return 0
    have = balance(con, user_id)
    if have < amount:
        raise InsufficientCreditsError(user_id, have, amount)
    con.execute(
        "INSERT INTO credit_ledger (user_id, delta, reason, request_id, created_at) "
        "VALUES (?, ?, ?, ?, ?)", [user_id, -amount, CHARGE, request_id, stamp(now)])
    return amount


def refund(con: Connection, request_id: str, *, now: datetime) -> int:
    """Give back a request's charge, once; returns the credits refunded (0 when the request
    was free or is already refunded). One statement, so safe inside or outside a transaction.
    """
    cur = con.execute(
        "INSERT INTO credit_ledger (user_id, delta, reason, request_id, created_at) "
        "SELECT user_id, -delta, ?, request_id, ? FROM credit_ledger "
        "WHERE request_id = ? AND reason = ? "
        "ON CONFLICT (request_id, reason) DO NOTHING",
        [REFUND, stamp(now), request_id, CHARGE])
    if cur.rowcount != 1:
        return 0
    (amount,) = con.execute("SELECT delta FROM credit_ledger WHERE request_id = ? AND reason = ?",
                            [request_id, REFUND]).fetchone()
    return int(amount)


def entries(con: Connection, user_id: object) -> list[dict[str, object]]:
    """The user's ledger rows, oldest first."""
    return rows_as_dicts(con.execute(
        "SELECT entry_id, delta, reason, request_id, created_at FROM credit_ledger "
        "WHERE user_id = ? ORDER BY entry_id", [user_id]))


def close_account(con: Connection, user_id: object, *, now: datetime) -> int:
    """Append the entry that brings an erased user's balance to zero (history is kept: the
    ledger is append-only); returns the credits it took away (0: nothing left)."""
    have = balance(con, user_id)
    if have > 0:
        con.execute(
            "INSERT INTO credit_ledger (user_id, delta, reason, request_id, created_at) "
            "VALUES (?, ?, ?, NULL, ?)", [user_id, -have, ERASURE, stamp(now)])
    return max(have, 0)
