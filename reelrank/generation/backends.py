"""The generation backend interface, and loading one from configuration.

A backend turns a prompt into a clip and a thumbnail. The worker hands it a fresh directory to
write into and a `should_stop` callable (true once the worker is shutting down or has lost the
job's lease), so a long render can stop early; the worker moves the files to their final place
only when it publishes. `settings.generation_backend` picks the backend: `procedural` (the
bundled renderer) or `module:Class`, a class constructed with no arguments.
"""

from __future__ import annotations

import importlib
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
    "load_backend",
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


def load_backend(spec: str) -> GenerationBackend:
    """`procedural`, or an instance of the class a `module:Class` path names."""
    if spec == "procedural":
        # Imported here because the renderer module imports this one for its types.
        from reelrank.generation.procedural import ProceduralRenderer

        return ProceduralRenderer()
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise BackendConfigError(f"generation backend must be 'procedural' or 'module:Class', "
                                 f"got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendConfigError(f"cannot import generation backend module {module_name!r} "
                                 f"(from {spec!r}): {exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise BackendConfigError(f"{module_name!r} has no class {class_name!r} (from {spec!r})")
    backend = cls()
    if not isinstance(backend, GenerationBackend):
        raise BackendConfigError(f"{spec} is not a generation backend: it needs a `name` and a "
                                 "`render(request, out_dir, should_stop)` method")
    return backend
