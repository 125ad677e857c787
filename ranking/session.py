"""A user's session: what the feed must take into account since the snapshot was made, beyond
what the snapshot knows. Built per request by the API from the control store (served history,
the events the user posted), empty in the nightly batch.

`served`: rows served to the user within `served_window_hours` (not served again while
anything else is servable); `engaged`: rows the user engaged with since the snapshot (never
served again); `hidden`: rows the user reported, or that enough people reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EMPTY", "Session"]


def _rows() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Session:
    served: np.ndarray = field(default_factory=_rows)
    engaged: np.ndarray = field(default_factory=_rows)
    hidden: np.ndarray = field(default_factory=_rows)

    @property
    def reacted(self) -> bool:
        """Whether the user did anything since the snapshot that should change their
        ranking (a list precomputed last night cannot reflect it)."""
        return bool(len(self.engaged) or len(self.hidden))

    @property
    def depth(self) -> int:
        """How far past the usual candidates the sources must reach to fill a page."""
        return len(self.served) + len(self.engaged) + len(self.hidden)


EMPTY = Session()
