"""Filters, cheapest first. Each returns (kept, removed); the pipeline counts removals under
the filter's name, which is how "why was this video not shown" is answered."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["FilterResult"]


@dataclass(frozen=True)
class FilterResult:
    kept: pl.DataFrame
    removed: pl.DataFrame
