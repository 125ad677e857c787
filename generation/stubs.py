"""A deterministic test backend whose behaviour is written in the prompt.

Configured like any backend (`generation_backend="generation.stubs:ScriptedBackend"`),
so tests and benchmarks can drive real worker processes. Directives in the prompt:

    [sleep=2.5]   take 2.5 s (in short steps, stopping early when asked to)
    [fail=2]      raise RenderError on attempts 1 and 2, succeed on attempt 3

The attempt number comes from the queue, so "fails N times" holds across worker processes and
restarts. Without directives it returns at once. The files it writes are placeholders, not
images: the procedural renderer is the backend whose output is real.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from generation.render import (
    RenderCancelledError,
    RenderError,
    RenderRequest,
    RenderResult,
)

__all__ = ["ScriptedBackend"]

_SLEEP = re.compile(r"\[sleep=(\d+(?:\.\d+)?)\]")
_FAIL = re.compile(r"\[fail=(\d+)\]")
_STEP_S = 0.05


class ScriptedBackend:
    name = "scripted"

    def render(self, request: RenderRequest, out_dir: Path,
               should_stop: Callable[[], bool]) -> RenderResult:
        fail = _FAIL.search(request.prompt)
        if fail is not None and request.attempt <= int(fail.group(1)):
            raise RenderError(f"scripted failure on attempt {request.attempt}")
        sleep = _SLEEP.search(request.prompt)
        deadline = time.monotonic() + (float(sleep.group(1)) if sleep else 0.0)
        while time.monotonic() < deadline:
            if should_stop():
                raise RenderCancelledError(f"scripted render of {request.request_id} stopped")
            time.sleep(min(_STEP_S, max(0.0, deadline - time.monotonic())))
        media, thumbnail = out_dir / "clip.gif", out_dir / "thumbnail.png"
        media.write_bytes(f"stub clip: {request.prompt}".encode())
        thumbnail.write_bytes(f"stub thumbnail: {request.prompt}".encode())
        return RenderResult(media_path=media, thumbnail_path=thumbnail, duration_s=1.0)
