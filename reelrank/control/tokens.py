"""API bearer tokens: issued by an admin (`reelrank tokens create`), scoped to one user, one
guardian or one service, and stored only as a sha256 hash in the control store.

A token is 32 random bytes, URL-safe, with a `rr_` prefix so a leaked one is recognisable
in logs and secret scanners. Looking one up hashes what the caller sent and finds the live
(not revoked) row with that hash; the token itself is never written anywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from reelrank.control.connection import Connection, stamp
from reelrank.errors import NotFoundError, ReelrankError

__all__ = ["SCOPES", "Caller", "create_token", "lookup_token", "revoke_token"]

SCOPES = ("user", "guardian", "service")
_PREFIX = "rr_"


@dataclass(frozen=True)
class Caller:
    """Who a token speaks for: `subject` is the user or guardian id (as stored), or the
    service's name."""

    scope: str
    subject: object
    label: str | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(control: Connection, scope: str, subject: object, *,
                 now: datetime, label: str | None = None) -> str:
    """A new token for `subject` in `scope`; only its hash is stored."""
    if scope not in SCOPES:
        raise ReelrankError(f"unknown token scope {scope!r}; known: {', '.join(SCOPES)}")
    if subject is None or subject == "":
        raise ReelrankError(f"a {scope} token needs a subject id")
    token = _PREFIX + secrets.token_urlsafe(32)
    control.execute(
        "INSERT INTO api_tokens (token_hash, scope, subject_id, label, created_at) "
        "VALUES (?, ?, ?, ?, ?)", [_hash(token), scope, subject, label, stamp(now)])
    return token


def revoke_token(control: Connection, token: str, *, now: datetime) -> None:
    """Revoke `token` (`NotFoundError` when no live token matches it)."""
    cur = control.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
        [stamp(now), _hash(token.strip())])
    if cur.rowcount != 1:
        raise NotFoundError("no live token matches; nothing revoked")


def lookup_token(control: Connection, token: str) -> Caller | None:
    """The caller a live token speaks for, or None (unknown or revoked)."""
    if not token.startswith(_PREFIX) or len(token) > 200:
        return None
    row = control.execute(
        "SELECT scope, subject_id, label FROM api_tokens "
        "WHERE token_hash = ? AND revoked_at IS NULL", [_hash(token)]).fetchone()
    return Caller(*row) if row is not None else None
