"""What every ingest does once the landed batches are in: carry out pending erasures in the
warehouse (and rewrite its file, so the erased rows' bytes go too), apply the retention
settings, export the event keys the API dedupes against,
and fold the control store's write-ahead log in (so bytes it overwrote are gone from the
log too). One function, so the ingest asset stays wiring; it reports counts, never ids or
records (its numbers end up in Dagster's metadata, which lives under the home too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reelrank.control import erasure
from reelrank.control.connection import compact
from reelrank.erase import erase_from_warehouse
from reelrank.event_keys import export_event_keys
from reelrank.home import DataHome
from reelrank.retention import prune_done, prune_quarantine, scrub_retired

__all__ = ["Upkeep", "upkeep"]


@dataclass(frozen=True)
class Upkeep:
    erased_users: int = 0
    erased_rows: dict[str, int] = field(default_factory=dict)
    done_batches_pruned: int = 0
    quarantine_pruned: int = 0
    event_keys: int = 0
    log_compacted: bool = False


def upkeep(home: DataHome, *, now: datetime) -> Upkeep:
    settings = home.settings
    control = home.control()
    try:
        pending = erasure.pending(control)
        with home.writing(timeout_s=600) as con:
            erased = erase_from_warehouse(con, pending)
            quarantined = prune_quarantine(con, now=now, keep_days=settings.quarantine_keep_days)
            keys = export_event_keys(con, home.event_keys_path, limit=settings.event_keys_max)
        if erased:
            home.rewrite_warehouse()  # the erased rows' bytes go too
        erasure.mark_applied(control, pending, now=now)
        pruned = prune_done(home.dir("landing"), now=now,
                            keep_days=settings.landing_done_keep_days)
        scrub_retired(home.dir("landing"))
        compacted = compact(control)
    finally:
        control.close()
    return Upkeep(len(pending), erased, len(pruned), quarantined, keys, compacted)
