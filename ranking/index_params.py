"""How an `ItemIndex` is built and searched (kept apart so settings-level code can name the
parameters without importing FAISS)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IndexParams"]


@dataclass(frozen=True)
class IndexParams:
    """How an `ItemIndex` is built and searched. Bounds are checked on construction."""

    exact_below: int = 200_000  # catalogs smaller than this are searched exactly
    hnsw_m: int = 32  # graph neighbours per node (memory ~ 2 * m * 4 bytes per item)
    ef_construction: int = 80  # candidate list while inserting: build time vs graph quality
    ef_search: int = 128  # candidate list while searching; raised to k when k is larger
    threads: int = 2  # OpenMP threads for build and batched search

    def __post_init__(self) -> None:
        bounds = {"exact_below": (0, 1_000_000_000), "hnsw_m": (4, 128),
                  "ef_construction": (8, 4096), "ef_search": (1, 65_536), "threads": (1, 256)}
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"IndexParams.{name} must be an int in [{low}, {high}], "
                                 f"got {value!r}")
        if self.ef_construction < self.hnsw_m:
            raise ValueError(f"IndexParams.ef_construction ({self.ef_construction}) must be "
                             f">= hnsw_m ({self.hnsw_m})")
