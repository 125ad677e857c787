"""Fold finished generations into the warehouse: the nightly run lands the generated items
registered since the last run as one more landing batch, so the next snapshot holds them
like any other item (until then serving adds them live, `ServingSnapshot.add_items`).

The position reached is kept in the warehouse's `home_meta` and advanced once the batch is
on disk; a batch that fails to ingest stays in `landing/` and is retried by the next run,
and ingest ignores item ids it already holds, so a crash in between loses nothing.
Batches are named `generated-...`, which sorts before the API's `inbox-...` batches, so a
new item is in the warehouse before the events that name it.
"""

from __future__ import annotations

import os
from pathlib import Path

from reelrank.control.items import drain_generated_items
from reelrank.home import DataHome

__all__ = ["land_generated_items"]

_KEY = "generated_items_seq"


def land_generated_items(home: DataHome) -> Path | None:
    """Write generations since the last landing as `landing/generated-<first>-<last>/`;
    its path, or None when there are none."""
    with home.writing(timeout_s=600) as con:
        row = con.execute("SELECT value FROM home_meta WHERE key = ?", [_KEY]).fetchall()
        after = int(row[0][0]) if row else 0
        control = home.control()
        try:
            batch = drain_generated_items(control, after_seq=after)
        finally:
            control.close()
        if batch.items.is_empty():
            return None
        landing = home.dir("landing")
        target = landing / f"generated-{after + 1:012d}-{batch.last_seq:012d}"
        if not target.exists():
            tmp = landing / f".{target.name}.tmp"
            tmp.mkdir(exist_ok=True)
            batch.items.write_parquet(tmp / "items.parquet")
            fd = os.open(tmp / "items.parquet", os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            tmp.rename(target)
        con.execute("INSERT INTO home_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "value = excluded.value", [_KEY, str(batch.last_seq)])
    return target
