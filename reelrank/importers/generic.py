"""Import a generic interaction log: one row per interaction, Parquet or CSV.

Columns: `user_id`, `item_id`, `timestamp` (unix seconds, ISO-8601 text or datetimes), plus
at most one signal column saying what each row means:

- `event_type` (one of the contract's event types): each row is that one event, as is;
- `rating` (any positive scale, normalised by its top observed value): an impression plus
  the events of `RATING_*` in `_common` (the MovieLens mapping on the file's own scale);
- `weight` (implicit feedback such as a play count): an impression when weight > 0 or
  unknown; a row with weight <= 0 records no interaction and yields no event (counted);
- none: an impression per row.

`watch_ms` may ride along. An optional items file gives `item_id`, `text`, and optionally
`creator_id` and `topic`; items without one get a neutral placeholder text.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from reelrank.errors import ContractError
from reelrank.home import DataHome
from reelrank.importers._common import (
    TS,
    ImportReport,
    Progress,
    cast_id,
    id_dtype,
    interaction_events,
    key_text,
    parse_timestamp,
    rating_flags,
    stage_and_ingest,
    system_user_id,
    users_table,
)

__all__ = ["import_interactions"]

LAYOUT = "interactions"
_PREFIX = "ix"  # event ids of this layout start "ix:"
_REQUIRED = ("user_id", "item_id", "timestamp")
_OPTIONAL = ("event_type", "rating", "weight", "watch_ms")
_SIGNALS = ("event_type", "rating", "weight")
_ITEM_REQUIRED = ("item_id", "text")
_ITEM_OPTIONAL = ("creator_id", "topic")
# The same text for every item without one: an id in the text ("item 1234") would give the
# embedding model a lexical likeness between unrelated items; identical text gives none.
PLACEHOLDER_TEXT = "item"


def import_interactions(
    home: DataHome,
    interactions: Path,
    *,
    items: Path | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the interaction log `interactions` (and item texts from `items`) into `home`."""
    log = _scan(interactions)
    columns = _check_columns(interactions, log, _REQUIRED, _OPTIONAL)
    signals = [c for c in _SIGNALS if c in columns]
    if len(signals) > 1:
        raise ContractError(
            f"{interactions}: columns {' and '.join(signals)} both say what a row means; "
            "keep one (event_type, rating or weight)")
    notes: list[str] = []
    raw = _collect(log.select(*columns), interactions)
    if raw.is_empty():
        raise ContractError(f"{interactions}: holds no interactions")
    catalog = None
    if items is not None:
        catalog_scan = _scan(items)
        catalog = _collect(catalog_scan.select(
            *_check_columns(items, catalog_scan, _ITEM_REQUIRED, _ITEM_OPTIONAL)), items)

    user_type = id_dtype(interactions, {"user_id": raw["user_id"]} | (
        {f"creator_id (in {items})": catalog["creator_id"]}
        if catalog is not None and "creator_id" in catalog.columns else {}))
    item_type = id_dtype(interactions, {"item_id": raw["item_id"]} | (
        {f"item_id (in {items})": catalog["item_id"]} if catalog is not None else {}))

    frame = raw.with_columns(
        cast_id(pl.col("user_id"), raw.schema["user_id"], user_type),
        cast_id(pl.col("item_id"), raw.schema["item_id"], item_type),
        parse_timestamp("timestamp", raw.schema["timestamp"]).alias("_at"),
    )
    unreadable = frame.filter(pl.col("timestamp").is_not_null() & pl.col("_at").is_null()).height
    if unreadable:
        notes.append(f"{unreadable:,} rows have a timestamp that is neither unix seconds nor "
                     "ISO-8601; ingestion quarantines their events, naming the value")
    # Events carry the parsed time when every value parsed (ingesting typed times is several
    # times faster than re-parsing text); otherwise the source values as they are, so that
    # ingestion's quarantine names each bad one.
    frame = frame.with_columns(
        (pl.col("timestamp") if unreadable else pl.col("_at")).alias("ts"))
    frame = frame.with_columns(pl.coalesce(
        pl.col("_at").dt.epoch("us").cast(pl.String),
        pl.col("timestamp").cast(pl.String)).alias("ts_key"))
    frame, events = _events(interactions, frame, signals[0] if signals else None, user_type,
                            item_type, notes)

    seen = frame.filter(pl.col("_at").is_not_null())
    users = seen.group_by("user_id").agg(pl.col("_at").min().alias("created_at"))
    item_rows = seen.group_by("item_id").agg(pl.col("_at").min().alias("created_at"))
    item_table, creators, nominal = _items(items, catalog, item_rows, users, user_type,
                                           item_type, notes)
    return stage_and_ingest(
        home, LAYOUT,
        {"users": users_table(users, creators), "items": item_table, "events": events},
        interactions=raw.height, system_user=nominal, notes=notes, now=now, progress=progress)


def _scan(path: Path) -> pl.LazyFrame:
    if not path.is_file():
        raise ContractError(f"{path}: no such file")
    match path.suffix.lower():
        case ".parquet":
            return pl.scan_parquet(path)
        case ".csv":
            # Text throughout: ids keep their spelling until the id type is decided over the
            # whole column, the way ingestion decides it.
            return pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
    raise ContractError(f"{path}: unsupported file type {path.suffix!r} (use .parquet or .csv)")


def _collect(plan: pl.LazyFrame, path: Path) -> pl.DataFrame:
    try:
        return plan.collect()
    except pl.exceptions.PolarsError as exc:
        raise ContractError(f"{path}: not a readable file ({exc})") from exc


def _check_columns(path: Path, frame: pl.LazyFrame, required: tuple[str, ...],
                   optional: tuple[str, ...]) -> list[str]:
    try:
        names = frame.collect_schema().names()
    except pl.exceptions.PolarsError as exc:
        raise ContractError(f"{path}: not a readable file ({exc})") from exc
    missing = [c for c in required if c not in names]
    if missing:
        raise ContractError(
            f"{path}: missing required column(s) {', '.join(missing)} "
            f"(columns found: {', '.join(names) or 'none'})")
    extra = [c for c in names if c not in required + optional]
    if extra:
        raise ContractError(
            f"{path}: unexpected column(s) {', '.join(extra)}; an interaction log holds "
            f"{', '.join(required)} and optionally {', '.join(optional)}")
    return names


def _events(source: Path, frame: pl.DataFrame, signal: str | None, user_type: pl.DataType,
            item_type: pl.DataType, notes: list[str]) -> tuple[pl.DataFrame, pl.LazyFrame]:
    """(the interactions that yield events, their contract events)."""
    watch = (pl.col("watch_ms").cast(pl.Int64, strict=False) if "watch_ms" in frame.columns
             else pl.lit(None, dtype=pl.Int64))
    frame = frame.with_columns(watch.alias("watch_ms"))
    if signal == "event_type":
        # Each row is already one event: no impression is added (the log has its own).
        typed = frame.with_columns(pl.col("event_type").cast(pl.String).str.strip_chars())
        keyed = typed.with_columns(
            pl.int_range(pl.len(), dtype=pl.UInt32)
            .over("user_id", "item_id", "ts_key", "event_type").alias("_n"))
        event_id = pl.concat_str(
            [pl.lit(_PREFIX), key_text(pl.col("user_id"), user_type),
             key_text(pl.col("item_id"), item_type), key_text(pl.col("ts_key"), pl.String),
             pl.col("_n").cast(pl.String), key_text(pl.col("event_type"), pl.String)],
            separator=":")
        return typed, keyed.lazy().select(
            event_id.alias("event_id"), "user_id", "item_id", "event_type", "ts", "watch_ms")
    flags = {k: pl.lit(False) for k in ("skip", "complete", "like")}
    if signal == "rating":
        rating = pl.col("rating").cast(pl.Float64, strict=False)
        top = frame.select(rating.max()).item()
        if top is None or top <= 0:
            raise ContractError(f"{source}: column 'rating' holds no positive rating")
        bad = frame.filter(pl.col("rating").is_not_null() & rating.is_null()).height
        if bad:
            notes.append(f"{bad:,} ratings are not numbers; those rows are impressions only")
        flags = rating_flags(rating / top)
    elif signal == "weight":
        weight = pl.col("weight").cast(pl.Float64, strict=False)
        kept = frame.filter(weight.is_null() | (weight > 0))
        if kept.height < frame.height:
            notes.append(f"{frame.height - kept.height:,} rows have weight <= 0: no "
                         "interaction, no event")
        frame = kept
    return frame, interaction_events(frame.with_columns(**flags), _PREFIX, user_type, item_type)


def _items(path: Path | None, catalog: pl.DataFrame | None, seen: pl.DataFrame,
           users: pl.DataFrame, user_type: pl.DataType, item_type: pl.DataType,
           notes: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, int | str | None]:
    """(items table, creators to add as users, the nominal creator if one was needed).

    Items exist from their first interaction; an item listed but never interacted with has
    no known time and is not imported."""
    if catalog is None:
        table = seen.with_columns(pl.lit(PLACEHOLDER_TEXT).alias("text"),
                                  pl.lit(None, dtype=pl.String).alias("topic"))
    else:
        catalog = catalog.with_columns(
            cast_id(pl.col("item_id"), catalog.schema["item_id"], item_type))
        if "creator_id" in catalog.columns:
            catalog = catalog.with_columns(
                cast_id(pl.col("creator_id"), catalog.schema["creator_id"], user_type))
        unused = catalog.join(seen, on="item_id", how="anti").height
        if unused:
            notes.append(f"{unused:,} items in {path} have no interaction (no creation time): "
                         "not imported")
        unlisted = seen.join(catalog, on="item_id", how="anti").height
        if unlisted:
            notes.append(f"{unlisted:,} interacted items are missing from {path}: they have no "
                         "text, and ingestion quarantines them and their events")
        table = seen.join(catalog, on="item_id", how="left")
    if "topic" not in table.columns:
        table = table.with_columns(pl.lit(None, dtype=pl.String).alias("topic"))
    if "creator_id" not in table.columns:
        table = table.with_columns(pl.lit(None, dtype=user_type).alias("creator_id"))
    creators = table.filter(pl.col("creator_id").is_not_null()).group_by("creator_id").agg(
        pl.col("created_at").min()).rename({"creator_id": "user_id"})
    nominal = None
    if table["creator_id"].null_count():
        used = pl.concat([users["user_id"], creators["user_id"]])
        nominal = system_user_id(used)
        table = table.with_columns(pl.col("creator_id").fill_null(pl.lit(nominal, user_type)))
        creators = pl.concat([creators, pl.DataFrame(
            {"user_id": [nominal], "created_at": [users["created_at"].min()]},
            schema={"user_id": user_type, "created_at": TS})])
    table = table.select("item_id", "creator_id", pl.col("created_at").cast(TS),
                         pl.col("text").cast(pl.String), pl.col("topic").cast(pl.String))
    return table.sort("item_id"), creators, nominal
