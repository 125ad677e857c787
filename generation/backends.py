"""The generation backend interface, and loading one from configuration.

A backend turns a prompt into a clip and a thumbnail. The worker hands it a fresh directory to
write into and a `should_stop` callable (true once the worker is shutting down or has lost the
job's lease), so a long render can stop early; the worker moves the files to their final place
only when it publishes. `settings.generation_backend` picks the backend: `procedural` (the
bundled renderer) or `module:Class`, a class constructed with no arguments.
"""

from __future__ import annotations

import importlib

from generation.render import (
    BackendConfigError,
    GenerationBackend,
    RenderCancelledError,
    RenderError,
    RenderRequest,
    RenderResult,
)

__all__ = [
    "BackendConfigError",
    "GenerationBackend",
    "RenderCancelledError",
    "RenderError",
    "RenderRequest",
    "RenderResult",
    "load_backend",
]


def load_backend(spec: str) -> GenerationBackend:
    """`procedural`, or an instance of the class a `module:Class` path names."""
    if spec == "procedural":
        # Imported here so that Pillow loads only in a process that renders.
        from generation.procedural import ProceduralRenderer

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
