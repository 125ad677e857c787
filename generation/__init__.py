"""Generation: requests with consent and credits, a leased job queue, pluggable renderers, and
the registry that makes a finished clip a feed item at once.

The names most callers need are re-exported here; none of them imports the renderer (Pillow is
loaded only when the procedural backend is).
"""

from generation.requests import (
    GenerationStatus,
    InvalidGenerationRequestError,
    SubmitResult,
    UnknownGenerationError,
    generation_status,
    submit_generation,
)
from generation.worker import run_worker
from reelrank.control.items import (
    GeneratedBatch,
    drain_generated_items,
    new_generated_items,
)

__all__ = [
    "GeneratedBatch",
    "GenerationStatus",
    "InvalidGenerationRequestError",
    "SubmitResult",
    "UnknownGenerationError",
    "drain_generated_items",
    "generation_status",
    "new_generated_items",
    "run_worker",
    "submit_generation",
]
