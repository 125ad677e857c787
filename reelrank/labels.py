"""Folding moderators' labels into the warehouse: the nightly run sets each labelled item's
`items.safety_label` to its label now (`reelrank.control.labels.current_labels`), so the next
snapshot, the training data and every feature built on the label carry it.

It runs after the night's landing batches are ingested, so a generation landed tonight gets
its label too, and an items file that re-sends an item's old rating does not undo a
moderator's word. Every current label is applied each run (labels are few, and applying one
again changes nothing), so a failed run loses none. Ids are compared as text: generated
items' ids are text in any home.
"""

from __future__ import annotations

import polars as pl

from reelrank.control.labels import current_labels
from reelrank.home import DataHome

__all__ = ["fold_labels"]


def fold_labels(home: DataHome) -> int:
    """Apply every moderator's label to the warehouse's items; how many items changed."""
    control = home.control()
    try:
        labels = current_labels(control)
    finally:
        control.close()
    if not labels:
        return 0
    frame = pl.DataFrame({"item_id": [str(i) for i in labels], "label": list(labels.values())},
                         schema={"item_id": pl.String, "label": pl.String})
    with home.writing(timeout_s=600) as con:
        (tables,) = con.execute("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name = 'items'").fetchall()[0]
        if not tables:
            return 0
        con.register("_labels", frame)
        try:
            (changed,) = con.execute(
                "UPDATE items SET safety_label = l.label FROM _labels l "
                "WHERE CAST(items.item_id AS VARCHAR) = l.item_id "
                "AND items.safety_label IS DISTINCT FROM l.label").fetchall()[0]
        finally:
            con.unregister("_labels")
    return int(changed)
