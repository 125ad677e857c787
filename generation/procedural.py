"""The bundled backend: a procedural renderer that writes a real, small looping clip.

No model and no network, so the whole generation loop runs offline. Everything in the clip is
drawn from a SHA-256 of the prompt (background, palette, shapes, their orbits), so the same
prompt always gives byte-identical files, and different prompts visibly different clips. Frames
are drawn in palette mode with a fixed palette, so GIF encoding involves no quantisation step
whose choices could vary.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from generation.render import RenderCancelledError, RenderRequest, RenderResult

__all__ = ["ProceduralRenderer"]

_MIN_SHAPES, _MAX_SHAPES = 3, 7


class _Shape:
    def __init__(self, seed: bytes, index: int, size: int) -> None:
        self.colour = index + 1  # palette slot; 0 is the background
        self.ellipse = seed[0] % 2 == 0
        self.radius = size * (0.06 + seed[1] / 255 * 0.12)
        self.orbit = size * (0.08 + seed[2] / 255 * 0.28)
        self.phase = seed[3] / 255 * 2 * math.pi
        # Whole turns (either way round) per loop, so the last frame leads into the first.
        self.turns = (1 + seed[4] % 2) * (1 if seed[5] % 2 else -1)
        self.centre = (size * (0.25 + seed[6] / 255 * 0.5), size * (0.25 + seed[7] / 255 * 0.5))

    def box(self, t: float) -> tuple[float, float, float, float]:
        angle = self.phase + 2 * math.pi * self.turns * t
        x = self.centre[0] + self.orbit * math.cos(angle)
        y = self.centre[1] + self.orbit * math.sin(angle)
        return (x - self.radius, y - self.radius, x + self.radius, y + self.radius)


class ProceduralRenderer:
    """`frames` frames of `size`x`size` pixels, `frame_ms` each, plus a PNG of the middle one."""

    name = "procedural"

    def __init__(self, frames: int = 24, size: int = 160, frame_ms: int = 100) -> None:
        if not 2 <= frames <= 600:
            raise ValueError(f"frames must be in [2, 600], got {frames}")
        if not 16 <= size <= 1024:
            raise ValueError(f"size must be in [16, 1024], got {size}")
        if not 20 <= frame_ms <= 1000 or frame_ms % 10:
            # GIF stores frame delays in hundredths of a second.
            raise ValueError(f"frame_ms must be a multiple of 10 in [20, 1000], got {frame_ms}")
        self.frames, self.size, self.frame_ms = frames, size, frame_ms

    def render(self, request: RenderRequest, out_dir: Path,
               should_stop: Callable[[], bool]) -> RenderResult:
        digest = hashlib.sha256(request.prompt.encode("utf-8")).digest()
        stream = hashlib.shake_256(digest).digest(8 * _MAX_SHAPES + 3 * (_MAX_SHAPES + 1))
        count = _MIN_SHAPES + digest[0] % (_MAX_SHAPES - _MIN_SHAPES + 1)
        shapes = [_Shape(stream[8 * i:8 * i + 8], i, self.size) for i in range(count)]
        palette = list(stream[8 * _MAX_SHAPES:8 * _MAX_SHAPES + 3 * (count + 1)])
        palette[0:3] = [c // 3 for c in palette[0:3]]  # a dark background, so shapes stand out
        images = []
        for frame in range(self.frames):
            if should_stop():
                raise RenderCancelledError(f"render of {request.request_id} stopped at frame "
                                           f"{frame}")
            image = Image.new("P", (self.size, self.size), 0)
            image.putpalette(palette + [0] * (768 - len(palette)))
            draw = ImageDraw.Draw(image)
            for shape in shapes:
                box = shape.box(frame / self.frames)
                if shape.ellipse:
                    draw.ellipse(box, fill=shape.colour)
                else:
                    draw.rectangle(box, fill=shape.colour)
            images.append(image)
        media, thumbnail = out_dir / "clip.gif", out_dir / "thumbnail.png"
        images[0].save(media, save_all=True, append_images=images[1:], duration=self.frame_ms,
                       loop=0, optimize=False, disposal=1)
        images[self.frames // 2].convert("RGB").save(thumbnail, optimize=False)
        return RenderResult(media_path=media, thumbnail_path=thumbnail,
                            duration_s=self.frames * self.frame_ms / 1000)
