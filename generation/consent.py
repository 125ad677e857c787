"""Cameo consent for a generation: whose likeness the requester may not use right now.

The rule itself lives in the one policy module (`ranking.policy.missing_consent`), asked
here for one requester and a handful of cameos, at submission and again inside the
publishing transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from ranking.policy import missing_consent

__all__ = ["missing_consent", "refusal_reason"]


def refusal_reason(missing: Sequence[object], requester_id: object) -> str:
    names = ", ".join(repr(m) for m in missing)
    return f"no live cameo consent from {names} to {requester_id!r}"
