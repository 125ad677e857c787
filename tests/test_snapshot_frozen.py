"""Frozen snapshot arrays: what the writer computed once and servers map is exactly what a
process computes from the Parquet tables itself, and it is mapped, not copied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ranking.engine import Engine
from ranking.live import LiveState
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome


def _mapped(array: np.ndarray) -> bool:
    """Whether `array` is (a view of) a memory map: served as a plain ndarray view, whose
    base chain holds the `np.memmap`."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base if isinstance(array, np.ndarray) else None
    return False


def test_mapped_arrays_equal_the_ones_computed_from_the_tables(scored_home: DataHome,
                                                               tmp_path: Path) -> None:
    live = (scored_home.dir("snapshots") / "latest").resolve()
    frozen = ServingSnapshot.load(live)
    assert frozen.frozen and _mapped(frozen.item_block)
    plain_dir = tmp_path / live.name
    shutil.copytree(live, plain_dir, ignore=shutil.ignore_patterns("arrays"))
    manifest = json.loads((plain_dir / "manifest.json").read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items()
                         if not k.startswith("arrays/")}
    (plain_dir / "manifest.json").write_text(json.dumps(manifest))
    plain = ServingSnapshot.load(plain_dir)
    assert not plain.frozen
    for name in ("item_block", "item_vectors", "user_block", "item_creator", "item_rating",
                 "item_country", "user_country_code", "creator_features"):
        np.testing.assert_array_equal(getattr(frozen, name), getattr(plain, name), name)
    for name in ("seen", "people", "by_creator"):
        np.testing.assert_array_equal(getattr(frozen, name).values, getattr(plain, name).values)
    assert frozen.item_block_cols == plain.item_block_cols
    users = frozen.active_users().head(40).to_list()
    nobody = LiveState(frozenset(), {}, {})
    settings = scored_home.settings.model_copy(update={"ranker_backend": "lightgbm"})
    a = Engine.load(frozen, settings).rank(users, nobody).pages
    b = Engine.load(plain, settings).rank(users, nobody).pages
    assert [p.item_ids for p in a] == [p.item_ids for p in b]


def test_a_changed_array_file_is_refused(scored_home: DataHome, tmp_path: Path) -> None:
    import pytest

    from reelrank.errors import ReelrankError

    live = (scored_home.dir("snapshots") / "latest").resolve()
    copy = tmp_path / live.name
    shutil.copytree(live, copy)
    target = copy / "arrays" / "item_block.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ReelrankError, match="item_block.npy"):
        ServingSnapshot.load(copy)
