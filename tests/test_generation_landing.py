"""Finished generations reach the warehouse with the next run, exactly once."""

from __future__ import annotations

from pathlib import Path

from generation.landing import land_generated_items
from reelrank.control.items import insert_generated_item
from reelrank.home import DataHome
from reelrank.ingest import ingest_directory
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
