"""What every importer shares: id typing, the nominal creator, events derived from
interactions, and staging the contract tables before `ingest_files` loads them.

An importer turns a public log into the contract's own files (users, items, events as
Parquet) in `HOME/imports/<layout>-<stamp>/`, then hands them to ingestion like any other
input, so validation, quarantine and idempotence are ingestion's, not re-implemented here.
The staging directory is kept after the import: it is the audit trail of what was derived.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from reelrank.errors import ContractError
from reelrank.home import DataHome
from reelrank.ingest import IngestReport, ingest_files
from reelrank.ingest.coerce import infer_id_type, seconds_to_ts, timestamp_expr

__all__ = [
    "RATING_COMPLETE_AT",
    "RATING_LIKE_AT",
    "RATING_SKIP_AT",
    "SYSTEM_USER_TEXT",
    "TS",
    "ImportReport",
    "Progress",
    "cast_id",
    "id_dtype",
    "interaction_events",
    "key_text",
    "parse_timestamp",
    "rating_flags",
    "seconds_to_ts",
    "stage_and_ingest",
    "staging_dir",
    "system_user_id",
    "users_table",
]

TS = pl.Datetime("us", "UTC")
Progress = Callable[[str], None]

# Ratings become events on the rating's own scale, normalised to (0, 1] by its top value.
# Nested sets, so a higher rating never carries fewer positive events than a lower one:
#   >= 0.8 (4-5 of 5 stars)  impression + complete + like
#   >= 0.6 (3 of 5)          impression + complete
#   <= 0.4 (1-2 of 5)        impression + skip
#   between (2.5 of 5)       impression only
# A rating means the person watched the title, so "complete" is the neutral reading of an
# OK rating; "skip" marks the disliked ones (skip and complete are exclusive, as in the
# synthetic world's log).
RATING_LIKE_AT = 0.8
RATING_COMPLETE_AT = 0.6
RATING_SKIP_AT = 0.4
_EPS = 1e-9

#: The nominal creator's id for text-id datasets (integer datasets use 0, or below).
SYSTEM_USER_TEXT = "__import__"
_ID_SEPARATOR = ":"


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the layout it recognised, the rows it staged per contract table,
    where the staged files are kept, ingestion's own report of loading them, the nominal
    creator it added (None when every item has a real creator), and what it left out."""

    layout: str
    staging: Path
    interactions: int
    written: Mapping[str, int]
    ingest: IngestReport
    system_user: int | str | None = None
    notes: tuple[str, ...] = field(default=())


def parse_timestamp(name: str, dtype: pl.DataType) -> pl.Expr:
    """A timestamp column read exactly the way ingestion reads it (see `timestamp_expr`);
    null where the value is not a time, which ingestion then quarantines by name."""
    if not (dtype.is_temporal() or dtype.is_numeric() or dtype == pl.String):
        return pl.lit(None, dtype=TS)
    return timestamp_expr(name, dtype)


def id_dtype(source: Path, columns: Mapping[str, pl.Series]) -> pl.DataType:
    """The one type an id domain takes across the columns that hold it, decided the way
    ingestion decides it: integers (or text that is all integers) stay integers, anything
    else is text."""
    kinds = set()
    for name, series in columns.items():
        if not (series.dtype.is_integer() or series.dtype == pl.String):
            raise ContractError(
                f"{source}: column {name!r} holds {series.dtype}, not ids "
                "(use integers or text)")
        kinds.add(infer_id_type(series.rename(name)))
    return pl.Int64() if kinds <= {"BIGINT"} else pl.String()


def cast_id(expr: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    if source == target:
        return expr
    if target == pl.Int64:
        text = expr.cast(pl.String).str.strip_chars() if source == pl.String else expr
        return text.cast(pl.Int64, strict=False)
    return expr.cast(pl.String)


def system_user_id(used: pl.Series) -> int | str:
    """An id no real user has, for the nominal creator of items whose creator is unknown.

    The items contract requires a creator that is a user; a dataset without creators gets
    one clearly artificial user rather than a made-up creator per item, so creator features
    carry no information instead of a false one. Integer datasets get 0 (unused by MovieLens
    and most logs), else one below the smallest id in use; text datasets get "__import__".
    """
    if used.dtype.is_integer():
        if not used.is_in([0]).any():
            return 0
        return int(used.min()) - 1
    candidate, n = SYSTEM_USER_TEXT, 1
    while used.is_in([candidate]).any():
        n += 1
        candidate = f"{SYSTEM_USER_TEXT}{n}"
    return candidate


def key_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """One part of an event id. Text is escaped so ':' always separates parts, which is what
    makes two different interactions unable to share an id."""
    text = expr.cast(pl.String)
    if dtype == pl.String:
        text = (text.str.replace_all("%", "%25", literal=True)
                .str.replace_all(_ID_SEPARATOR, "%3A", literal=True))
    return text


def rating_flags(score: pl.Expr) -> dict[str, pl.Expr]:
    """`complete`, `like` and `skip` flags for a rating already normalised to (0, 1]."""
    return {
        "complete": (score >= RATING_COMPLETE_AT - _EPS).fill_null(False),
        "like": (score >= RATING_LIKE_AT - _EPS).fill_null(False),
        "skip": (score <= RATING_SKIP_AT + _EPS).fill_null(False),
    }


def interaction_events(base: pl.DataFrame, prefix: str, user_dtype: pl.DataType,
                       item_dtype: pl.DataType) -> pl.LazyFrame:
    """Contract events from interactions: one impression each, plus the flagged outcomes.

    `base` has user_id, item_id, ts, ts_key (text identifying the timestamp), watch_ms and
    boolean skip / complete / like. Every derived event keeps its interaction's exact time;
    watch time rides on the impression only, as in the synthetic world's log.

    Event ids are `prefix:user:item:ts_key:n:type`, where n numbers repeats of the same
    (user, item, time) in file order: ids are unique even when a log stamps many events with
    one second, and the same file always yields the same ids, so re-importing loads nothing
    new. The repeat counter is computed once, here; the returned plan only selects and
    concatenates, so it streams into one Parquet file.
    """
    keyed = base.with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).over("user_id", "item_id", "ts_key").alias("_n")
    ).lazy()
    stem = pl.concat_str(
        [pl.lit(prefix), key_text(pl.col("user_id"), user_dtype),
         key_text(pl.col("item_id"), item_dtype), key_text(pl.col("ts_key"), pl.String),
         pl.col("_n").cast(pl.String)], separator=_ID_SEPARATOR)

    def of_type(event_type: str, flag: str | None) -> pl.LazyFrame:
        rows = keyed if flag is None else keyed.filter(pl.col(flag))
        watch = pl.col("watch_ms") if flag is None else pl.lit(None, dtype=pl.Int64)
        return rows.select(
            pl.concat_str([stem, pl.lit(event_type)], separator=_ID_SEPARATOR).alias("event_id"),
            "user_id", "item_id", pl.lit(event_type).alias("event_type"), "ts",
            watch.cast(pl.Int64).alias("watch_ms"))

    return pl.concat([of_type("impression", None), of_type("skip", "skip"),
                      of_type("complete", "complete"), of_type("like", "like")])


def users_table(seen: pl.DataFrame, *extra: pl.DataFrame) -> pl.DataFrame:
    """One row per user: `seen` (user_id, created_at) plus extra users (creators), each
    created at the earliest time any of them shows the user existed."""
    frames = [f.select("user_id", pl.col("created_at").cast(TS)) for f in (seen, *extra)]
    return (pl.concat(frames).filter(pl.col("user_id").is_not_null())
            .group_by("user_id").agg(pl.col("created_at").min()).sort("user_id"))


def staging_dir(home: DataHome, layout: str, now: datetime) -> Path:
    """`HOME/imports/<layout>-<stamp>/`, not under landing/, which the pipeline drains."""
    root = home.root / "imports"
    root.mkdir(exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for n in range(1, 1000):
        path = root / (f"{layout}-{stamp}" if n == 1 else f"{layout}-{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free staging directory for {layout}-{stamp} under {root}")


def stage_and_ingest(
    home: DataHome,
    layout: str,
    tables: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    interactions: int,
    system_user: int | str | None,
    notes: list[str],
    now: datetime | None,
    progress: Progress | None,
    log_kind: str = "choices",
) -> ImportReport:
    """Write each table as one Parquet file in a fresh staging directory, then ingest them.
    `log_kind`: "choices" when every row is something a user picked (ratings, plays), or
    "exposures" when the log also records what was shown and not taken (KuaiRec)."""
    say = progress or (lambda _line: None)
    staging = staging_dir(home, layout, now or datetime.now(UTC))
    written: dict[str, int] = {}
    plan: dict[str, list[Path]] = {}
    for name, frame in tables.items():
        path = staging / f"{name}.parquet"
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(path)
            written[name] = pl.scan_parquet(path).select(pl.len()).collect().item()
        else:
            frame.write_parquet(path)
            written[name] = frame.height
        plan[name] = [path]
        say(f"import {layout}: staged {written[name]:,} {name} in {path}")
    for note in notes:
        say(f"import {layout}: {note}")
    report = ingest_files(home, plan, now=now, progress=progress)
    with home.writing(timeout_s=600) as con:
        if system_user is not None:
            # Ranking must know this "creator" made everything only nominally: a per-creator
            # cap on it would cap the whole catalog.
            con.execute("INSERT INTO stand_in_creators VALUES (?) ON CONFLICT DO NOTHING",
                        [str(system_user)])
        # What the log records decides what can learn from it (`Settings.scorer`).
        con.execute("INSERT INTO home_meta VALUES ('log_kind', ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value", [log_kind])
    return ImportReport(layout=layout, staging=staging, interactions=interactions,
                        written=written, ingest=report, system_user=system_user,
                        notes=tuple(notes))
