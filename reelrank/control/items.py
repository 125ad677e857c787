"""The generated-items registry: finished generations, visible the moment they are published.

The warehouse has one writer (the pipeline), so a new generation cannot wait for it: the
worker registers each item in the control store's `generated_items`, inside the transaction
that marks its request done. The API polls `new_generated_items` by `seq` to add fresh items to
serving at once; the nightly ingest folds them into the warehouse with
`drain_generated_items`, which shapes them as the `items` contract.

Ids: `item_id` is `g-<request_id>` (text), `creator_id` and cameo ids are stored as they came
(integers stay integers). Paths are relative to the data home. Embeddings are raw float32 bytes
with the id of the model that made them. Each item keeps the safety rating the worker's
classifier gave it (`safety_label`, `rated_by`, `safety_categories`; 'unrated' when none did):
a moderator's later label is `reelrank.control.labels`'s, not a change to this row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from reelrank.control.connection import Connection, chunks, marks
from reelrank.errors import ContractError

__all__ = ["GeneratedBatch", "appearing_in", "drain_generated_items", "generated_among",
           "generated_item", "generated_item_id", "insert_generated_item",
           "new_generated_items"]

_COLUMNS = ("seq", "item_id", "request_id", "creator_id", "created_at", "text",
            "cameo_user_ids", "remix_of", "duration_s", "media_path", "thumbnail_path",
            "embedding", "embedding_model", "safety_label", "rated_by", "safety_categories")
# Columns an item may leave out, and what they then hold: nothing has rated it.
_OPTIONAL = {"safety_label": "unrated", "rated_by": None, "safety_categories": ()}


def generated_item_id(request_id: str) -> str:
    return f"g-{request_id}"


def insert_generated_item(con: Connection, item: dict[str, object]) -> int:
    """Add one item (keys: every column but `seq`, the rating ones optional; `embedding` a
    float32 vector or None); returns its seq. Call inside the transaction that completes
    the request."""
    row = {**_OPTIONAL, **item}
    vector = row["embedding"]
    row["embedding"] = None if vector is None else np.asarray(vector, np.float32).tobytes()
    row["cameo_user_ids"] = json.dumps(list(row["cameo_user_ids"]))  # type: ignore[call-overload]
    row["safety_categories"] = json.dumps(list(row["safety_categories"]))  # type: ignore[call-overload]
    names = _COLUMNS[1:]
    # fetchall, not fetchone: SQLite finishes an INSERT ... RETURNING only once its rows are
    # all read, and a pending statement would keep the transaction from committing.
    ((seq,),) = con.execute(
        f"INSERT INTO generated_items ({', '.join(names)}) "  # column names, not values
        f"VALUES ({', '.join('?' for _ in names)}) RETURNING seq",
        [row[name] for name in names]).fetchall()
    return int(seq)


def new_generated_items(control: Connection, after_seq: int = 0, limit: int = 1000
                        ) -> list[dict[str, object]]:
    """Items with `seq > after_seq`, oldest first, at most `limit`; poll again from the last
    row's `seq`. `cameo_user_ids` is a list, `embedding` a float32 array or None."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    rows = control.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM generated_items WHERE seq > ? ORDER BY seq LIMIT ?",
        [after_seq, limit]).fetchall()
    return [_decoded(values) for values in rows]


def _decoded(values: Sequence[object]) -> dict[str, object]:
    row = dict(zip(_COLUMNS, values, strict=True))
    row["cameo_user_ids"] = json.loads(row["cameo_user_ids"])  # type: ignore[arg-type]
    row["safety_categories"] = json.loads(row["safety_categories"])  # type: ignore[arg-type]
    if row["embedding"] is not None:
        row["embedding"] = np.frombuffer(row["embedding"], dtype=np.float32).copy()  # type: ignore[call-overload]
    return row


def generated_item(control: Connection, item_id: object) -> dict[str, object] | None:
    """One generated item by id (as `new_generated_items` shapes it), or None."""
    row = control.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM generated_items WHERE item_id = ?",
        [item_id]).fetchone()
    return None if row is None else _decoded(row)


def appearing_in(control: Connection, user: object) -> list[dict[str, object]]:
    """The generations whose cameo list holds `user`, oldest first (as
    `new_generated_items` shapes them)."""
    rows = control.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM generated_items WHERE EXISTS (SELECT 1 FROM "
        "json_each(generated_items.cameo_user_ids) WHERE json_each.value = ?) ORDER BY seq",
        [user]).fetchall()
    return [_decoded(values) for values in rows]


def generated_among(control: Connection, item_ids: Sequence[object]
                    ) -> dict[object, tuple[object, tuple[object, ...]]]:
    """For each of `item_ids` that is a registered generation: (creator, cameo ids)."""
    out: dict[object, tuple[object, tuple[object, ...]]] = {}
    for part in chunks(sorted({str(i) for i in item_ids})):
        for item, creator, cameos in control.execute(
                f"SELECT item_id, creator_id, cameo_user_ids FROM generated_items "
                f"WHERE item_id IN ({marks(part)})", part).fetchall():
            out[item] = (creator, tuple(json.loads(cameos)))
    return out


@dataclass(frozen=True)
class GeneratedBatch:
    """Generated items in the `items` contract's shape, and the highest seq among them
    (`after_seq` itself when there are none), to resume from next time."""

    items: pl.DataFrame
    last_seq: int


def _user_id_type(values: Sequence[object]) -> type[pl.DataType]:
    kinds = {type(v) for v in values}
    if kinds <= {int}:
        return pl.Int64 if kinds else pl.String
    if kinds <= {str}:
        return pl.String
    raise ContractError(f"generated items mix user id types {sorted(k.__name__ for k in kinds)}")


def drain_generated_items(control: Connection, after_seq: int = 0,
                          limit: int = 1_000_000) -> GeneratedBatch:
    """Items after `after_seq` as an `items` frame for ingestion: safety_label the rating
    the worker stored ('unrated' when none; a moderator's later label is folded in by the
    pipeline, `reelrank.labels`), topic null, remix_of as text (item ids here are text)."""
    rows = new_generated_items(control, after_seq, limit)
    users = [r["creator_id"] for r in rows] + [c for r in rows for c in r["cameo_user_ids"]]
    user_type = _user_id_type(users)
    frame = pl.DataFrame(
        {
            "item_id": [r["item_id"] for r in rows],
            "creator_id": [r["creator_id"] for r in rows],
            "created_at": [datetime.fromisoformat(str(r["created_at"])) for r in rows],
            "text": [r["text"] for r in rows],
            "cameo_user_ids": [r["cameo_user_ids"] for r in rows],
            "duration_s": [r["duration_s"] for r in rows],
            "safety_label": [r["safety_label"] for r in rows],
            "remix_of": [None if r["remix_of"] is None else str(r["remix_of"]) for r in rows],
            "topic": [None] * len(rows),
        },
        schema={"item_id": pl.String, "creator_id": user_type,
                "created_at": pl.Datetime("us", "UTC"), "text": pl.String,
                "cameo_user_ids": pl.List(user_type), "duration_s": pl.Float64,
                "safety_label": pl.String, "remix_of": pl.String, "topic": pl.String},
    )
    last = int(rows[-1]["seq"]) if rows else after_seq  # type: ignore[call-overload]
    return GeneratedBatch(items=frame, last_seq=last)
