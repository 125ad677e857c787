"""Loaders for the snapshot's retrieval models: the content and collaborative FAISS indexes
(with each index label's snapshot row), the collaborative user vectors, and EASE's weights.
A damaged model is left out with a warning (its source then proposes nothing): the manifest
check already refused a snapshot whose files changed, so this is a model that never loads."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ranking.ease import EaseModel
from ranking.index import ItemIndex
from ranking.snapshot.arrays import codes
from reelrank.errors import ReelrankError

__all__ = ["Ease", "IndexRows", "load_ease", "load_index"]

log = logging.getLogger(__name__)

IndexRows = tuple[ItemIndex, np.ndarray]   # (index, label -> snapshot row, -1 if absent)


@dataclass(frozen=True)
class Ease:
    weights: np.ndarray      # float32 (model items, model items)
    to_weight: np.ndarray    # snapshot row -> model row (-1: not in the model)
    weight_rows: np.ndarray  # model row -> snapshot row (-1: not in the snapshot)

    def __iter__(self):  # unpacks as (weights, to_weight, weight_rows)
        return iter((self.weights, self.to_weight, self.weight_rows))


def load_index(directory: Path, item_row: dict) -> IndexRows | None:
    if not (directory / "meta.json").is_file():
        return None
    try:
        # The manifest's check did the checksums; mapped, so server processes share it.
        index = ItemIndex.load(directory, checksums=False, mmap=True)
    except ReelrankError as exc:
        log.warning("retrieval index %s unusable: %s", directory, exc)
        return None
    return index, codes(pl.Series(index.ids), item_row)


def load_ease(directory: Path, item_row: dict) -> Ease | None:
    if not (directory / "meta.json").is_file():
        return None
    try:
        model = EaseModel.load(directory, checksums=False, mmap=True)  # as the index
    except ReelrankError as exc:
        log.warning("EASE model %s unusable: %s", directory, exc)
        return None
    rows = codes(model.item_ids, item_row)
    to_weight = np.full(len(item_row), -1, dtype=np.int64)
    to_weight[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
    return Ease(model.weights, to_weight, rows)
