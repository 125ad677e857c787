"""What a generation backend is: the request it renders, the result it returns, the errors
it may raise, and the protocol a backend class implements. Loading one by name is
`generation.backends`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from reelrank.errors import ReelrankError

__all__ = [
    "BackendConfigError",
    "GenerationBackend",
    "RenderCancelledError",
    "RenderError",
    "RenderRequest",
    "RenderResult",
]


class RenderError(ReelrankError):
    """A render attempt failed; the job is retried (with backoff) up to its attempt limit."""


class RenderCancelledError(ReelrankError):
    """The render stopped because `should_stop()` said so; not a failure of the job."""


class BackendConfigError(ReelrankError):
    """`generation_backend` names nothing loadable, or not a backend."""


@dataclass(frozen=True)
class RenderRequest:
    request_id: str
    prompt: str
    cameo_user_ids: tuple[object, ...]
    remix_of: object
    attempt: int


@dataclass(frozen=True)
class RenderResult:
    """Files the backend wrote inside its output directory, and the clip's length."""

    media_path: Path
    thumbnail_path: Path
    duration_s: float


@runtime_checkable
class GenerationBackend(Protocol):
    """Renders one request into `out_dir`; raises RenderError for a failed attempt."""

    name: str

    def render(self, request: RenderRequest, out_dir: Path,
               should_stop: Callable[[], bool]) -> RenderResult: ...
