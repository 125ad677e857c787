"""The HTTP API: FastAPI routes over the policy-checked feed, the event inbox and the live
settings in the control store. `create_app(home)` builds it; `reelrank serve` runs it."""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
