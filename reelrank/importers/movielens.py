"""Import a MovieLens release (GroupLens) in any of its three file layouts.

- ml-100k: `u.data` (user, item, rating, unix time; tab-separated), `u.item` (id|title|
  release|video release|url|19 genre flags; latin-1), `u.genre` (the flags' names);
- ml-1m (and ml-10m): `ratings.dat`, `movies.dat` (id::title::genre|genre; latin-1);
- ml-latest (and ml-20m, ml-25m): `ratings.csv`, `movies.csv` (UTF-8, half-star ratings).

Each rating is an interaction; the RATING_* mapping in `_common` turns it into events.
Movies have no creators, so the nominal system user creates them all (user 0: MovieLens
user ids start at 1). `u.user`/`users.dat` (age, gender, occupation, zip) are not imported:
the users contract has no field for them, and deriving a birth year from an age would be an
estimate, not a signal.
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
    rating_flags,
    seconds_to_ts,
    stage_and_ingest,
    system_user_id,
    users_table,
)

__all__ = ["LAYOUTS", "detect_layout", "import_movielens"]

# layout -> the files that identify it
LAYOUTS: dict[str, tuple[str, ...]] = {
    "ml-100k": ("u.data", "u.item"),
    "ml-1m": ("ratings.dat", "movies.dat"),
    "ml-latest": ("ratings.csv", "movies.csv"),
}
TOP_RATING = 5.0
# ml-100k's flag columns, in order, for a copy that lacks u.genre.
_GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
# MovieLens's own markers of "no genre", which are not topics.
_NO_GENRE = ("unknown", "(no genres listed)")
_RATINGS = {"user_id": pl.Int64, "item_id": pl.Int64, "rating": pl.Float64,
            "timestamp": pl.Int64}


def detect_layout(directory: Path) -> tuple[str, Path]:
    """(layout, the directory holding its files): `directory` itself, or its one
    subdirectory that holds a layout (an unpacked archive's `ml-100k/`)."""
    if not directory.is_dir():
        raise ContractError(f"{directory} is not a directory")
    for folder in (directory, *sorted(p for p in directory.iterdir() if p.is_dir())):
        for layout, files in LAYOUTS.items():
            if all((folder / f).is_file() for f in files):
                return layout, folder
    wanted = "; ".join(f"{k}: {', '.join(v)}" for k, v in LAYOUTS.items())
    raise ContractError(f"{directory} holds no MovieLens layout (looked for {wanted})")


def import_movielens(
    home: DataHome,
    directory: Path,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the MovieLens release in `directory` into `home`."""
    layout, folder = detect_layout(directory)
    read = {"ml-100k": _ml100k, "ml-1m": _ml1m, "ml-latest": _mllatest}[layout]
    try:
        ratings, movies = read(folder)
        interactions = ratings.with_columns(seconds_to_ts(pl.col("timestamp")).alias("ts"),
                                            pl.col("timestamp").cast(pl.String).alias("ts_key"),
                                            pl.lit(None, dtype=pl.Int64).alias("watch_ms"),
                                            **rating_flags(pl.col("rating") / TOP_RATING)
                                            ).collect()
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ContractError(f"{folder}: files are not in the {layout} layout ({exc})") from exc
    notes: list[str] = []
    users = interactions.group_by("user_id").agg(pl.col("ts").min().alias("created_at"))
    first = interactions.group_by("item_id").agg(pl.col("ts").min().alias("created_at"))
    nominal = system_user_id(users["user_id"])
    # Release dates are too coarse (a year, or 01-Jan-1995) to say when a title entered
    # this catalog; its first rating does.
    items = first.join(movies, on="item_id", how="left").select(
        "item_id", pl.lit(nominal, dtype=pl.Int64).alias("creator_id"),
        "created_at", _text().alias("text"), _topic().alias("topic"))
    unrated = movies.join(first, on="item_id", how="anti").height
    if unrated:
        notes.append(f"{unrated:,} movies were never rated (no creation time): not imported")
    creator = pl.DataFrame({"user_id": [nominal], "created_at": [users["created_at"].min()]},
                           schema={"user_id": pl.Int64, "created_at": TS})
    events = interaction_events(interactions, layout, pl.Int64, pl.Int64)
    return stage_and_ingest(
        home, layout,
        {"users": users_table(users, creator), "items": items.sort("item_id"),
         "events": events},
        interactions=interactions.height, system_user=nominal, notes=notes, now=now,
        progress=progress)


def _text() -> pl.Expr:
    """"Title (year) — Genre1, Genre2", or the title alone for a movie with no genre."""
    genres = pl.col("genres").list.eval(pl.element().filter(~pl.element().is_in(_NO_GENRE)))
    return (pl.when(genres.list.len() > 0)
            .then(pl.concat_str([pl.col("title"), genres.list.join(", ")], separator=" — "))
            .otherwise(pl.col("title")))


def _topic() -> pl.Expr:
    genres = pl.col("genres").list.eval(pl.element().filter(~pl.element().is_in(_NO_GENRE)))
    return genres.list.first()


def _lines(path: Path) -> pl.Series:
    # MovieLens's older releases are latin-1 ("Misérables"); every byte decodes, so a title
    # never breaks the file. Catalog files are small enough to read whole.
    series = pl.Series("line", path.read_bytes().decode("latin-1").splitlines(), dtype=pl.String)
    return series.filter(series.str.strip_chars().str.len_chars() > 0)


def _ml100k(folder: Path) -> tuple[pl.LazyFrame, pl.DataFrame]:
    ratings = pl.scan_csv(folder / "u.data", separator="\t", has_header=False,
                          schema=_RATINGS)
    names = list(_GENRES_100K)
    if (folder / "u.genre").is_file():
        pairs = _lines(folder / "u.genre").str.split("|").to_list()
        names = [name for name, _ in sorted(pairs, key=lambda p: int(p[1]))]
    fields = _lines(folder / "u.item").str.split("|").alias("f")
    movies = pl.DataFrame(fields).select(
        pl.col("f").list.get(0).cast(pl.Int64).alias("item_id"),
        pl.col("f").list.get(1).alias("title"),
        pl.concat_list([pl.when(pl.col("f").list.get(5 + i, null_on_oob=True) == "1")
                        .then(pl.lit(name)) for i, name in enumerate(names)])
        .list.drop_nulls().alias("genres"),
    )
    return ratings, movies


def _ml1m(folder: Path) -> tuple[pl.LazyFrame, pl.DataFrame]:
    # '::' separates fields; reading ':' as the separator leaves an empty field between each
    # pair, which is dropped. Ratings hold only digits, so no field contains ':'.
    ratings = pl.scan_csv(
        folder / "ratings.dat", separator=":", has_header=False,
        schema={"user_id": pl.Int64, "_a": pl.String, "item_id": pl.Int64, "_b": pl.String,
                "rating": pl.Float64, "_c": pl.String, "timestamp": pl.Int64},
    ).select(*_RATINGS)
    # Titles can hold ':' ("Star Wars: Episode IV"), so movies split on '::' itself.
    fields = _lines(folder / "movies.dat").str.splitn("::", 3).struct.rename_fields(
        ["id", "title", "genres"])
    movies = pl.DataFrame(fields).unnest("line").select(
        pl.col("id").cast(pl.Int64).alias("item_id"), "title",
        pl.col("genres").str.split("|"))
    return ratings, movies


def _mllatest(folder: Path) -> tuple[pl.LazyFrame, pl.DataFrame]:
    ratings = pl.scan_csv(folder / "ratings.csv", schema_overrides={
        "userId": pl.Int64, "movieId": pl.Int64, "rating": pl.Float64, "timestamp": pl.Int64},
    ).rename({"userId": "user_id", "movieId": "item_id"}).select(*_RATINGS)
    movies = pl.read_csv(folder / "movies.csv", schema_overrides={"movieId": pl.Int64}).select(
        pl.col("movieId").alias("item_id"), "title", pl.col("genres").str.split("|"))
    return ratings, movies
