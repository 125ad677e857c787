"""MovieLens-100k: the engine's feeds against implicit ALS, BPR and most-popular.

    .venv/bin/python bench/movielens_compare.py [--data ../shared/data/movielens-100k]

Protocol: each user's ratings sorted by time; the last 20% (at least one) are held out.
Everything trains on the rest: the engine imports it (`import_interactions`, ratings kept)
and runs its nightly job (features, ranker, batch scoring); ALS and BPR (the `implicit`
package, run as its documentation shows) fit the same interactions. Each model's top 10 of
items the user has not rated in training is scored against the held-out items (binary
relevance): NDCG@10 and Recall@10 averaged over all users.

--smoke: the same on the first 40 users of `../shared/data/movielens-100k` (the repo's
ml-100k fixture where that is absent), with the hashing embedder: the table, not a finding.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from _smoke import REPO, parse_args

K = 10
SHARED = REPO.parent / "shared" / "data" / "movielens-100k"
FIXTURE = REPO / "tests" / "data" / "importers" / "ml-100k"


def split(data: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    ratings = pl.read_csv(data / "u.data", separator="\t", has_header=False,
                          new_columns=["user_id", "item_id", "rating", "timestamp"])
    ranked = ratings.sort(["user_id", "timestamp", "item_id"]).with_columns(
        pl.int_range(pl.len()).over("user_id").alias("i"), pl.len().over("user_id").alias("n"))
    held = (pl.col("n") * 0.2).floor().clip(lower_bound=1)
    test = ranked.filter(pl.col("i") >= pl.col("n") - held).select("user_id", "item_id")
    train = ranked.filter(pl.col("i") < pl.col("n") - held).drop("i", "n")
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
              "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
              "Romance", "Sci-Fi", "Thriller", "War", "Western"]
    raw = pl.read_csv(data / "u.item", separator="|", has_header=False, encoding="utf8-lossy",
                      new_columns=["item_id", "title", "release", "video", "url", *genres])
    items = raw.with_columns(
        pl.concat_list([pl.when(pl.col(g) == 1).then(pl.lit(g)) for g in genres])
        .list.drop_nulls().alias("g")).select(
        "item_id", (pl.col("title") + " — " + pl.col("g").list.join(", ")).alias("text"),
        pl.col("g").list.first().alias("topic"))
    return train, test, items


def metrics(top: pl.DataFrame, test: pl.DataFrame) -> dict[str, float]:
    """top: user_id, item_id, rank (1..K)."""
    hits = top.join(test, on=["user_id", "item_id"], how="semi").with_columns(
        (1 / (pl.col("rank") + 1).log(2)).alias("g"))
    dcg = hits.group_by("user_id").agg(pl.col("g").sum(), pl.len().alias("h"))
    ideal = test.group_by("user_id").len("rel").with_columns(
        pl.col("rel").clip(upper_bound=K).map_elements(
            lambda n: float(sum(1 / np.log2(r + 2) for r in range(n))),
            return_dtype=pl.Float64).alias("idcg"))
    table = ideal.join(dcg, on="user_id", how="left").fill_null(0)
    return {"ndcg@10": float((table["g"] / table["idcg"]).mean()),
            "recall@10": float((table["h"] / table["rel"]).mean())}


def popular_top(train: pl.DataFrame) -> pl.DataFrame:
    """The most-rated items the user has not rated, as top: user_id, item_id, rank."""
    counts = train.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])
    seen = train.select("user_id", "item_id")
    return (train.select("user_id").unique().join(counts.head(300), how="cross")
            .join(seen, on=["user_id", "item_id"], how="anti")
            .sort(["user_id", "len", "item_id"], descending=[False, True, False])
            .with_columns(pl.int_range(1, pl.len() + 1).over("user_id").alias("rank"))
            .filter(pl.col("rank") <= K))


def implicit_top(model, train: pl.DataFrame) -> pl.DataFrame:
    from scipy.sparse import csr_matrix

    users = train["user_id"].unique().sort()
    items = train["item_id"].unique().sort()
    u = {x: i for i, x in enumerate(users.to_list())}
    v = {x: i for i, x in enumerate(items.to_list())}
    matrix = csr_matrix((np.ones(train.height, dtype=np.float32),
                         ([u[x] for x in train["user_id"]], [v[x] for x in train["item_id"]])),
                        shape=(len(u), len(v)))
    model.fit(matrix, show_progress=False)
    ids, _ = model.recommend(np.arange(len(u)), matrix, N=K, filter_already_liked_items=True)
    item_list = items.to_list()
    return pl.DataFrame({
        "user_id": np.repeat(users.to_numpy(), K),
        "item_id": [item_list[j] for row in ids for j in row],
        "rank": np.tile(np.arange(1, K + 1), len(u))})


def first_users(data: Path, users: int, out: Path) -> Path:
    """`data`'s ratings of its first `users` users (by id) and the items they rated, in the
    same layout (u.data, u.item), written to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    ratings = pl.read_csv(data / "u.data", separator="\t", has_header=False,
                          new_columns=["user_id", "item_id", "rating", "timestamp"])
    keep = ratings["user_id"].unique().sort().head(users)
    ratings = ratings.filter(pl.col("user_id").is_in(keep.implode()))
    ratings.write_csv(out / "u.data", separator="\t", include_header=False)
    rated = set(ratings["item_id"].to_list())
    lines = (data / "u.item").read_bytes().splitlines(keepends=True)
    (out / "u.item").write_bytes(b"".join(line for line in lines
                                          if line.strip()
                                          and int(line.split(b"|", 1)[0]) in rated))
    return out


def engine_top(train: pl.DataFrame, items: pl.DataFrame, work: Path,
               embedder: str = "sentence-transformers") -> pl.DataFrame:
    from cli.runner import run_nightly
    from pipelines.resources import EmbedderResource
    from reelrank.home import DataHome
    from reelrank.importers import import_interactions

    train.write_csv(work / "train.csv")
    items.write_csv(work / "items.csv")
    home = DataHome.open(work / "home")
    import_interactions(home, work / "train.csv", items=work / "items.csv")
    summary = run_nightly(home, embedder=EmbedderResource(backend=embedder))
    if not summary.success:
        raise RuntimeError(summary.render())
    feeds = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")
    return feeds.filter(pl.col("position") <= K).select(
        "user_id", "item_id", pl.col("position").alias("rank"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/movielens-100k"))
    parser.add_argument("--users", type=int, default=0,
                        help="only the first N users' ratings (0: all)")
    parser.add_argument("--embedder", choices=["sentence-transformers", "hashing"],
                        default="sentence-transformers", help="the engine's text embedder")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the engine's data home here (default: a temporary one)")
    args = parse_args(parser, {"data": SHARED if SHARED.is_dir() else FIXTURE, "users": 40,
                               "embedder": "hashing"})
    with tempfile.TemporaryDirectory() as scratch:
        data = first_users(args.data, args.users, Path(scratch)) if args.users else args.data
        compare(args, data)


def compare(args: argparse.Namespace, data: Path) -> None:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    train, test, items = split(data)
    results = {"most_popular": metrics(popular_top(train), test)}
    results["implicit_als"] = metrics(implicit_top(AlternatingLeastSquares(
        factors=64, regularization=0.05, iterations=20, random_state=args.seed), train), test)
    results["implicit_bpr"] = metrics(implicit_top(BayesianPersonalizedRanking(
        factors=64, iterations=100, random_state=args.seed), train), test)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results["reelrank"] = metrics(engine_top(train, items, args.workdir, args.embedder),
                                      test)
    else:
        with tempfile.TemporaryDirectory() as work:
            results["reelrank"] = metrics(engine_top(train, items, Path(work), args.embedder),
                                          test)
    print(json.dumps(results, indent=2))
    print("\n| model | NDCG@10 | Recall@10 |\n| --- | --- | --- |")
    for name, m in results.items():
        print(f"| {name} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} |")


if __name__ == "__main__":
    main()
