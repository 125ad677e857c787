"""Import KuaiRec (Kuaishou's short-video log) from its CSV release.

Files, in the directory or its `data/` folder; only a matrix is required:

- `big_matrix.csv`, `small_matrix.csv`: user_id, video_id, play_duration (ms),
  video_duration (ms), time (local, UTC+8), date, timestamp (unix seconds), watch_ratio.
  Both are imported when both are present; an interaction in both gets the same event ids,
  so it loads once.
- `item_categories.csv`: video_id, feat ("[8]", "[27, 9]"): category ids without names.
- `item_daily_features.csv`: per video and day; author_id (the creator), upload_dt,
  video_tag_name, and caption / manual_cover_text where a release carries them.
- `kuairec_caption_category.csv` (KuaiRec 2.0): caption, manual_cover_text, category names.
- `social_network.csv`: user_id, friend_list ("[5779]"): friendships.
- `user_features.csv`: not imported; the users contract has no field for its columns.

Events per interaction (WATCH_* below): an impression carrying play_duration as watch_ms,
then complete at watch_ratio >= 1 (watched to the end), like as well at >= 2 (watched it
through twice: KuaiRec has no like column, and ratio > 2 is the positive label its
benchmarks use), skip below 0.3.

Authors are a separate id space from viewers in KuaiRec, so author a becomes user -(a + 1):
still an integer, reversible, and unable to collide with a viewer (ids >= 0).
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
    interaction_events,
    seconds_to_ts,
    stage_and_ingest,
    system_user_id,
    users_table,
)

__all__ = ["MATRICES", "import_kuairec"]

LAYOUT = "kuairec"
MATRICES = ("big_matrix.csv", "small_matrix.csv")
WATCH_LIKE_AT = 2.0
WATCH_COMPLETE_AT = 1.0
WATCH_SKIP_BELOW = 0.3
# The contract's bounds on duration_s; a duration outside them (0 ms happens) is left
# unknown rather than costing the item, and with it every interaction with it, to quarantine.
_DURATION_S = (0.1, 3600.0)
# Without a caption or tag every video gets this same text: "video <id>" would hand the
# embedding model a lexical likeness between unrelated videos whose ids share digits.
PLACEHOLDER_TEXT = "a short video"
_LOCAL_TZ = "Asia/Shanghai"  # the zone of the matrices' `time` column
_CAPTIONS = "kuairec_caption_category.csv"


def import_kuairec(
    home: DataHome,
    directory: Path,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the KuaiRec release in `directory` into `home`."""
    folder = _folder(directory)
    notes: list[str] = []
    logs = [_matrix(folder / name) for name in MATRICES if (folder / name).is_file()]
    # Lazily, so the matrices (12.6M rows in the full release) are not copied into one.
    interactions = pl.concat([log.lazy() for log in logs])
    users = interactions.filter(pl.col("ts").is_not_null()).group_by("user_id").agg(
        pl.col("ts").min().alias("created_at")).collect()
    items, creators, nominal = _items(folder, interactions, users, notes)
    tables: dict[str, pl.DataFrame | pl.LazyFrame] = {
        "users": users_table(users, creators), "items": items}
    if (folder / "social_network.csv").is_file():
        end = interactions.select(pl.col("ts").max()).collect().item()
        tables["friendships"] = _friendships(folder / "social_network.csv", users, end, notes)
    if (folder / "user_features.csv").is_file():
        notes.append("user_features.csv: not imported (no users contract field for it)")
    # Per matrix, so the repeat counter in event ids restarts per file and an interaction
    # present in both matrices yields identical ids.
    tables["events"] = pl.concat([
        interaction_events(log, LAYOUT, pl.Int64, pl.Int64) for log in logs])
    return stage_and_ingest(home, LAYOUT, tables, interactions=sum(log.height for log in logs),
                            system_user=nominal, notes=notes, now=now, progress=progress,
                            log_kind="exposures")  # every shown video is logged, watched or not


def _folder(directory: Path) -> Path:
    for folder in (directory, directory / "data"):
        if any((folder / name).is_file() for name in MATRICES):
            return folder
    raise ContractError(
        f"{directory} holds no KuaiRec matrix (looked for {' or '.join(MATRICES)}, "
        "also under data/)")


def _read(path: Path, needed: tuple[str, ...], wanted: tuple[str, ...]) -> pl.LazyFrame:
    """The `needed` and whichever `wanted` columns `path` has, as text, unread yet: callers
    type them in the same plan, so a 12-million-row matrix is never held as text."""
    scan = pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
    try:
        names = scan.collect_schema().names()
    except pl.exceptions.PolarsError as exc:
        raise ContractError(f"{path}: not a readable CSV file ({exc})") from exc
    missing = [c for c in needed if c not in names]
    if missing:
        raise ContractError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(columns found: {', '.join(names)})")
    return scan.select(c for c in needed + wanted if c in names)


def _collect(plan: pl.LazyFrame, path: Path) -> pl.DataFrame:
    try:
        return plan.collect()
    except pl.exceptions.PolarsError as exc:
        raise ContractError(f"{path}: not a readable CSV file ({exc})") from exc


def _number(name: str, dtype: pl.DataType = pl.Float64) -> pl.Expr:
    # KuaiRec was written by pandas: integers may read "12.0", and missing values "nan".
    value = pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)
    value = pl.when(value.is_nan()).then(None).otherwise(value)
    return value.round(0).cast(pl.Int64) if dtype == pl.Int64 else value


def _matrix(path: Path) -> pl.DataFrame:
    raw = _read(path, ("user_id", "video_id"), (
        "play_duration", "video_duration", "time", "timestamp", "watch_ratio"))
    columns = raw.collect_schema().names()
    if "timestamp" not in columns and "time" not in columns:
        raise ContractError(f"{path}: needs a timestamp or time column")
    times = []
    if "timestamp" in columns:
        times.append(seconds_to_ts(_number("timestamp")))
    if "time" in columns:
        times.append(pl.col("time").str.strip_chars().str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us", time_zone=_LOCAL_TZ)
            .dt.convert_time_zone("UTC"))
    play = _number("play_duration", pl.Int64) if "play_duration" in columns else None
    length = _number("video_duration", pl.Int64) if "video_duration" in columns else None
    if "watch_ratio" in columns:
        ratio = _number("watch_ratio")
    elif play is not None and length is not None:
        ratio = pl.when(length > 0).then(play / length)
    else:
        raise ContractError(f"{path}: needs watch_ratio, or play_duration and video_duration")
    frame = raw.select(
        _number("user_id", pl.Int64).alias("user_id"),
        _number("video_id", pl.Int64).alias("item_id"),
        pl.coalesce(times).cast(TS).alias("ts"),
        (play if play is not None else pl.lit(None, dtype=pl.Int64)).alias("watch_ms"),
        (length if length is not None else pl.lit(None, dtype=pl.Int64)).alias("_length_ms"),
        ratio.alias("_ratio"),
    )
    return _collect(frame.with_columns(
        # Milliseconds: the matrices' own precision. A record with no time keeps a readable
        # id; ingestion quarantines it for the missing time.
        pl.col("ts").dt.epoch("ms").cast(pl.String).fill_null("none").alias("ts_key"),
        (pl.col("_ratio") < WATCH_SKIP_BELOW).fill_null(False).alias("skip"),
        (pl.col("_ratio") >= WATCH_COMPLETE_AT).fill_null(False).alias("complete"),
        (pl.col("_ratio") >= WATCH_LIKE_AT).fill_null(False).alias("like"),
    ), path)


def _clean(name: str) -> pl.Expr:
    """A text column with KuaiRec's stand-ins for "none" (UNKNOWN, nan, []) as null."""
    text = pl.col(name).str.strip_chars()
    return pl.when(~text.str.to_lowercase().is_in(["", "unknown", "nan", "[]", "none"])).then(
        text)


def _metadata(folder: Path) -> pl.DataFrame:
    """Per video: author, upload day, category ids, and descriptive text columns."""
    meta = pl.DataFrame(schema={"item_id": pl.Int64})
    daily_path = folder / "item_daily_features.csv"
    if daily_path.is_file():
        daily = _read(daily_path, ("video_id",), (
            "date", "author_id", "upload_dt", "video_tag_name", "caption",
            "manual_cover_text"))
        names = daily.collect_schema().names()
        # A video's first day describes it; its author and upload day do not change.
        first_day = daily.sort("date" if "date" in names else "video_id").group_by(
            _number("video_id", pl.Int64).alias("item_id"), maintain_order=True).first()
        typed = first_day.select(
            "item_id",
            *([_number("author_id", pl.Int64).alias("author_id")]
              if "author_id" in names else []),
            *([pl.col("upload_dt").str.strip_chars().str.slice(0, 10)
               .str.to_date("%Y-%m-%d", strict=False).alias("upload_day")]
              if "upload_dt" in names else []),
            *(_clean(c).alias(c) for c in ("video_tag_name", "caption", "manual_cover_text")
              if c in names),
        )
        meta = meta.join(_collect(typed, daily_path), on="item_id", how="full", coalesce=True)
    captions_path = folder / _CAPTIONS
    if captions_path.is_file():
        levels = ("first_level_category_name", "second_level_category_name",
                  "third_level_category_name")
        captions = _read(captions_path, ("video_id",), ("caption", "manual_cover_text", *levels))
        typed = captions.select(
            _number("video_id", pl.Int64).alias("item_id"),
            *(_clean(c).alias(c) for c in captions.collect_schema().names() if c != "video_id"),
        ).unique("item_id", keep="first", maintain_order=True)
        # The caption file is the fuller source; it wins over daily-features columns.
        meta = meta.join(_collect(typed, captions_path), on="item_id", how="full",
                         coalesce=True, suffix="_cap")
        for c in ("caption", "manual_cover_text"):
            if f"{c}_cap" in meta.columns:
                meta = meta.with_columns(pl.coalesce(f"{c}_cap", c).alias(c)).drop(f"{c}_cap")
    categories_path = folder / "item_categories.csv"
    if categories_path.is_file():
        typed = _read(categories_path, ("video_id", "feat"), ()).select(
            _number("video_id", pl.Int64).alias("item_id"),
            pl.col("feat").str.strip_chars("[] ").str.split(",")
            .list.eval(pl.element().str.strip_chars().cast(pl.Int64, strict=False))
            .list.drop_nulls().alias("categories"),
        )
        meta = meta.join(_collect(typed, categories_path), on="item_id", how="full",
                         coalesce=True)
    return meta


def _items(folder: Path, interactions: pl.LazyFrame, users: pl.DataFrame, notes: list[str]
           ) -> tuple[pl.DataFrame, pl.DataFrame, int | None]:
    """(items table, creators to add as users, the nominal creator if one was needed)."""
    seen = interactions.filter(pl.col("item_id").is_not_null()).group_by("item_id").agg(
        pl.col("ts").min().alias("first_ts"),
        (pl.col("_length_ms").drop_nulls().first() / 1000).alias("duration_s")).collect()
    meta = _metadata(folder)
    table = seen.join(meta, on="item_id", how="left")
    for name, dtype in (("author_id", pl.Int64), ("upload_day", pl.Date),
                        ("video_tag_name", pl.String), ("caption", pl.String),
                        ("manual_cover_text", pl.String), ("first_level_category_name", pl.String),
                        ("second_level_category_name", pl.String),
                        ("third_level_category_name", pl.String),
                        ("categories", pl.List(pl.Int64))):
        if name not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=dtype).alias(name))
    path = pl.concat_str([pl.col("first_level_category_name"),
                          pl.col("second_level_category_name"),
                          pl.col("third_level_category_name")], separator=" > ",
                         ignore_nulls=True)
    described = pl.concat_str(
        [pl.col("caption"), pl.col("manual_cover_text"), pl.when(path != "").then(path),
         pl.col("video_tag_name")], separator=" — ", ignore_nulls=True)
    category_text = pl.when(pl.col("categories").list.len() > 0).then(pl.concat_str(
        [pl.lit("video in categories "),
         pl.col("categories").list.eval(pl.element().cast(pl.String)).list.join(", ")]))
    first_category = pl.when(pl.col("categories").list.len() > 0).then(pl.concat_str(
        [pl.lit("category "), pl.col("categories").list.first().cast(pl.String)]))
    low, high = _DURATION_S
    upload = pl.col("upload_day").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    table = table.select(
        "item_id",
        (-(pl.col("author_id") + 1)).alias("creator_id"),
        # A video existed from its upload day (when known) or else its first interaction.
        pl.min_horizontal(pl.col("first_ts"), upload).cast(TS).alias("created_at"),
        pl.coalesce(pl.when(described != "").then(described), category_text,
                    pl.lit(PLACEHOLDER_TEXT)).alias("text"),
        pl.when(pl.col("duration_s").is_between(low, high)).then(pl.col("duration_s"))
        .alias("duration_s"),
        pl.coalesce("first_level_category_name", "video_tag_name", first_category)
        .alias("topic"),
    )
    creators = table.filter(pl.col("creator_id").is_not_null()).group_by("creator_id").agg(
        pl.col("created_at").min()).rename({"creator_id": "user_id"})
    if creators.height:
        notes.append(f"{creators.height:,} authors imported as users -(author_id + 1)")
    unknown, nominal = table["creator_id"].null_count(), None
    if unknown:
        nominal = system_user_id(pl.concat([users["user_id"], creators["user_id"]]))
        notes.append(f"{unknown:,} videos have no author: nominal creator user {nominal}")
        table = table.with_columns(pl.col("creator_id").fill_null(nominal))
        creators = pl.concat([creators, pl.DataFrame(
            {"user_id": [nominal], "created_at": [table["created_at"].min()]},
            schema={"user_id": pl.Int64, "created_at": TS})])
    return table.sort("item_id"), creators, nominal


def _friendships(path: Path, users: pl.DataFrame, end: datetime | None, notes: list[str]
                 ) -> pl.DataFrame:
    """Each pair once (user_a < user_b), between users imported from the matrices.

    The file is a snapshot without dates: a friendship is known to exist when the log ends,
    not when it began, so it is dated at the last interaction and point-in-time training over
    the log never sees it.
    """
    pairs = _collect(_read(path, ("user_id", "friend_list"), ()).select(
        _number("user_id", pl.Int64).alias("a"),
        pl.col("friend_list").str.strip_chars("[] ").str.split(",")
        .list.eval(pl.element().str.strip_chars().cast(pl.Int64, strict=False)).alias("b"),
    ), path).explode("b").drop_nulls()
    pairs = pairs.filter(pl.col("a") != pl.col("b")).select(
        pl.min_horizontal("a", "b").alias("user_a"), pl.max_horizontal("a", "b").alias("user_b"),
    ).unique(maintain_order=True)
    known = users["user_id"]
    kept = pairs.filter(pl.col("user_a").is_in(known.implode())
                        & pl.col("user_b").is_in(known.implode()))
    if kept.height < pairs.height:
        notes.append(f"{pairs.height - kept.height:,} friendships name a user with no "
                     "interaction: not imported")
    return kept.with_columns(pl.lit(end, dtype=TS).alias("created_at"))
