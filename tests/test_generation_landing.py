"""Finished generations reach the warehouse with the next run, exactly once, with the
rating the worker gave them; moderators' labels are folded into the items by the next run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from cli.runner import run_nightly
from generation.landing import land_generated_items
from pipelines.resources import EmbedderResource
from reelrank.control.items import insert_generated_item
from reelrank.control.labels import set_label
from reelrank.home import DataHome
from reelrank.ingest import ingest_directory
from reelrank.labels import fold_labels
from tests.conftest import tiny_world


def _generate(home: DataHome, n: int) -> None:
    control = home.control()
    control.execute("BEGIN")
    insert_generated_item(control, {
        "item_id": f"g-r{n}", "request_id": f"r{n}", "creator_id": "u3",
        "created_at": "2026-01-07T10:00:00+00:00", "text": f"clip number {n}",
        "cameo_user_ids": ["u1"], "remix_of": None, "duration_s": 4.0,
        "media_path": f"media/r{n}/clip.gif", "thumbnail_path": f"media/r{n}/thumbnail.png",
        "embedding": None, "embedding_model": None})
    control.execute("COMMIT")
    control.close()


def _items(home: DataHome) -> list[str]:
    con = home.warehouse()
    try:
        return [r[0] for r in con.execute("SELECT item_id FROM items ORDER BY 1").fetchall()]
    finally:
        con.close()


def test_generations_land_once_and_ingest_like_any_item(home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "world"))
    assert land_generated_items(home) is None
    _generate(home, 1)
    _generate(home, 2)
    first = land_generated_items(home)
    assert first is not None and first.name == "generated-000000000001-000000000002"
    assert land_generated_items(home) is None  # nothing new since
    _generate(home, 3)
    second = land_generated_items(home)
    assert second is not None and second.name == "generated-000000000003-000000000003"
    for batch in (first, second, first):  # a batch ingested twice changes nothing
        ingest_directory(home, batch)
    assert _items(home) == ["g-r1", "g-r2", "g-r3", "v1", "v2"]


def _labels(home: DataHome) -> dict[str, str]:
    con = home.warehouse(read_only=True)
    try:
        return dict(con.execute("SELECT item_id, safety_label FROM items").fetchall())
    finally:
        con.close()


def _label(home: DataHome, item: str, label: str) -> None:
    control = home.control()
    set_label(control, item, label, by="moderator", reason=None, now=datetime.now(UTC))
    control.close()


def test_a_rating_lands_with_its_item_and_moderators_labels_are_folded_in(
        home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "world"))
    control = home.control()
    control.execute("BEGIN")
    insert_generated_item(control, {
        "item_id": "g-r1", "request_id": "r1", "creator_id": "u3",
        "created_at": "2026-01-07T10:00:00+00:00", "text": "friends drinking beer",
        "cameo_user_ids": [], "remix_of": None, "duration_s": 4.0,
        "media_path": "media/r1/clip.gif", "thumbnail_path": "media/r1/thumbnail.png",
        "embedding": None, "embedding_model": None, "safety_label": "sensitive",
        "rated_by": "lexicon-1", "safety_categories": ["alcohol"]})
    control.execute("COMMIT")
    control.close()
    batch = land_generated_items(home)
    ingest_directory(home, batch)
    assert _labels(home) == {"g-r1": "sensitive", "v1": "safe", "v2": "safe"}
    assert fold_labels(home) == 0  # nothing labelled yet
    _label(home, "v1", "sensitive")
    _label(home, "v1", "unsafe")  # the newest label wins
    _label(home, "g-r1", "safe")
    assert fold_labels(home) == 2
    assert _labels(home) == {"g-r1": "safe", "v1": "unsafe", "v2": "safe"}
    assert fold_labels(home) == 0
    # A file re-sending an item's old rating is overruled by the next fold.
    ingest_directory(home, batch)
    assert _labels(home)["g-r1"] == "sensitive"
    assert fold_labels(home) == 1 and _labels(home)["g-r1"] == "safe"


def test_the_next_pipeline_run_puts_a_moderators_label_in_the_warehouse_and_snapshot(
        tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    tiny_world(home.dir("landing") / "batch-1")
    _label(home, "v2", "unsafe")
    summary = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    assert _labels(home) == {"v1": "safe", "v2": "unsafe"}
    items = pl.read_parquet(home.dir("snapshots") / "latest" / "items.parquet")
    assert dict(zip(items["item_id"], items["safety_label"], strict=True)) == {
        "v1": "safe", "v2": "unsafe"}
