"""Deterministic synthetic world generator: users, creators, cameo graph, engagement log.

`simulate` writes a world (the app-facing tables plus the hidden ground truth under
`truth/`); `expected_relevance` / `world_relevance` are the oracle offline evaluation ranks
by. See `world.py` for the files and `truth.py` for the preference model.
"""

from __future__ import annotations

from .config import WorldConfig
from .engagement import EVENT_TYPES
from .geo import COUNTRIES
from .oracle import expected_relevance, world_relevance
from .tables import SCHEMAS
from .truth import TruthModel
from .vocab import TOPIC_NAMES
from .world import WorldSummary, simulate

__all__ = [
    "COUNTRIES",
    "EVENT_TYPES",
    "SCHEMAS",
    "TOPIC_NAMES",
    "TruthModel",
    "WorldConfig",
    "WorldSummary",
    "expected_relevance",
    "simulate",
    "world_relevance",
]
