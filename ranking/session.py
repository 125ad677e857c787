"""A user's session: what the feed must take into account since the snapshot was made, beyond
what the snapshot knows. Built per request by the API from the control store (served history,
the events the user posted), empty in the nightly batch.

- `served`: rows served within `served_window_hours`, oldest served first (not served again
  while anything else is servable);
- `engaged`: rows the user engaged with since the snapshot (never served again);
- `hidden`: rows the user reported, or that enough people reported;
- `liked`: (row, weight) of what the user liked, completed or shared since, newest first:
  the taste vector moves toward them and the `session` source finds more like them;
- `muted_creators`: person rows of creators the user marked "not interested" in, within
  `not_interested_hours` (their videos are not served);
- `muted_topics`: topic codes demoted: of an item marked not interested, or of a run of
  skips (`skip_run` in a row on one topic);
- `recent`: rows the user engaged with positively since the snapshot (watched to the end,
  liked, shared...), oldest first: the newest steps of their sequence, for order-aware
  models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EMPTY", "Session", "shifted_vector"]


def _rows() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Session:
    served: np.ndarray = field(default_factory=_rows)
    engaged: np.ndarray = field(default_factory=_rows)
    hidden: np.ndarray = field(default_factory=_rows)
    liked: tuple[tuple[int, float], ...] = ()
    muted_creators: np.ndarray = field(default_factory=_rows)
    muted_topics: np.ndarray = field(default_factory=_rows)
    recent: np.ndarray = field(default_factory=_rows)

    @property
    def reacted(self) -> bool:
        """Whether the user did anything since the snapshot that should change their
        ranking (a list precomputed last night cannot reflect it)."""
        # Not `hidden`: what everyone's reports hide is a filter on any page, the batch's
        # too; the user's own report makes the item `engaged` as well.
        return bool(len(self.engaged) or self.liked or len(self.muted_creators)
                    or len(self.muted_topics))

    @property
    def depth(self) -> int:
        """How far past the usual candidates the sources must reach to fill a page."""
        return len(self.served) + len(self.engaged) + len(self.hidden)


EMPTY = Session()


def shifted_vector(base: np.ndarray | None, liked: np.ndarray, weights: np.ndarray,
                   pull_per_weight: float, pull_max: float) -> np.ndarray | None:
    """The taste vector moved toward what was just liked: the unit mean of the liked items'
    vectors (weighted), given a share of min(pull_max, pull_per_weight * total weight) of
    the new direction; with no base vector (a new user), that mean alone."""
    if len(liked) == 0:
        return base
    toward = (weights[:, None] * liked).sum(axis=0)
    norm = float(np.linalg.norm(toward))
    if norm == 0:
        return base
    toward = toward / norm
    if base is None:
        return toward.astype(np.float32)
    share = min(pull_max, pull_per_weight * float(weights.sum()))
    mixed = (1 - share) * base / (float(np.linalg.norm(base)) or 1.0) + share * toward
    return (mixed / (float(np.linalg.norm(mixed)) or 1.0)).astype(np.float32)
