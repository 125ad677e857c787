"""Training and serving assets: the ranker (with a promotion gate), the item index, the
sharded batch scoring, and publishing the feeds."""

import json
from pathlib import Path

import dagster as dg
import numpy as np

from features.snapshot import serving_as_of
from pipelines.assets.content import item_embeddings, user_embeddings_asset
from pipelines.assets.engagement import engagement_daily
from pipelines.assets.features import FEATURE_ASSETS
from pipelines.resources import HomeResource
from ranking.training import promote, should_promote, train_candidate
from reelrank.errors import NotEnoughHistoryError, ReelrankError

__all__ = [
    "SCORING_GROUP",
    "TRAINING_GROUP",
    "collaborative_index",
    "item_index",
    "ranker",
    "ranker_not_worse",
    "ranker_promoted",
    "scoring_assets",
    "serving_snapshot",
    "shard_partitions",
]

TRAINING_GROUP = "training"
SCORING_GROUP = "scoring"
WRITES = {"reelrank/writes": "warehouse"}


@dg.asset(key=["ranking", "ranker"], deps=[*FEATURE_ASSETS, user_embeddings_asset],
          group_name=TRAINING_GROUP, kinds={"lightgbm"}, op_tags=WRITES)
def ranker(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    """A candidate LambdaMART ranker trained on the newest days (not yet promoted)."""
    data_home = home.open()
    with data_home.writing(timeout_s=600) as con:
        try:
            as_of = serving_as_of(con)
            candidate = train_candidate(con, data_home.settings, data_home.dir("models"), as_of)
        except NotEnoughHistoryError as exc:
            # A young deployment still gets features and feeds (ranked by the fallback
            # scorer) rather than a failed night.
            context.log.warning(f"no candidate ranker: {exc}")
            return dg.MaterializeResult(metadata={"skipped": str(exc)})
    context.log.info(f"candidate ranker {candidate.path.name}: valid NDCG@10 "
                     f"{candidate.ndcg:.4f} (current: {candidate.current_ndcg})")
    return dg.MaterializeResult(metadata={
        "path": str(candidate.path), "valid_ndcg@10": candidate.ndcg,
        "current_valid_ndcg@10": candidate.current_ndcg,
        "best_iteration": candidate.ranker.metrics.get("best_iteration"),
        "features": len(candidate.ranker.features)})


@dg.asset_check(asset=ranker, blocking=True)
def ranker_not_worse(context: dg.AssetCheckExecutionContext, home: HomeResource
                     ) -> dg.AssetCheckResult:
    """Refuse to promote a ranker that is worse than the current one on the same rows."""
    event = context.instance.get_latest_materialization_event(ranker.key)
    meta = event.asset_materialization.metadata if event else {}
    if "skipped" in meta:
        return dg.AssetCheckResult(passed=True, metadata={
            "no candidate": meta["skipped"].value})
    new = meta["valid_ndcg@10"].value if "valid_ndcg@10" in meta else None
    old_value = meta.get("current_valid_ndcg@10")
    old = old_value.value if old_value is not None else None
    tolerance = home.open().settings.promotion_tolerance
    passed = should_promote(new, old, tolerance)
    return dg.AssetCheckResult(passed=passed, metadata={
        "candidate": new, "current": old, "tolerance": tolerance})


@dg.asset(key=["ranking", "ranker_promoted"], deps=[ranker], group_name=TRAINING_GROUP,
          kinds={"lightgbm"})
def ranker_promoted(context: dg.AssetExecutionContext, home: HomeResource
                    ) -> dg.MaterializeResult:
    """The serving ranker: the candidate, once its check has passed (a failed blocking
    check stops this step, and the current ranker stays)."""
    event = context.instance.get_latest_materialization_event(ranker.key)
    meta = event.asset_materialization.metadata
    models = home.open().dir("models")
    if "path" not in meta:
        kept = models / "ranker" / "current"
        return dg.MaterializeResult(metadata={
            "current": str(kept.resolve()) if kept.exists() else "none (fallback scorer)"})
    link = promote(models, Path(meta["path"].value))
    return dg.MaterializeResult(metadata={"current": str(link.resolve())})


@dg.asset(key=["ranking", "item_index"], deps=[item_embeddings], group_name=TRAINING_GROUP,
          kinds={"faiss"})
def item_index(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    """The content index over every item embedding (exact or HNSW by catalog size)."""
    from ranking.index import IndexParams, ItemIndex

    data_home = home.open()
    con = data_home.warehouse()
    try:
        table = con.sql("SELECT item_id, embedding FROM item_embeddings ORDER BY item_id").pl()
    finally:
        con.close()
    if table.is_empty():
        context.log.warning("no item embeddings yet: no content index this run")
        return dg.MaterializeResult(metadata={"skipped": "no item embeddings"})
    vectors = np.asarray(table["embedding"].to_list(), dtype=np.float32)
    params = IndexParams(exact_below=data_home.settings.ann_exact_below)
    index = ItemIndex.build(table["item_id"].to_list(), vectors, params)
    path = index.save(data_home.dir("indexes") / "content")
    context.log.info(f"item index: {len(table):,} items at {path}")
    return dg.MaterializeResult(metadata={"dagster/row_count": len(table), "path": str(path)})


@dg.asset(key=["ranking", "collaborative_index"], deps=[engagement_daily],
          group_name=TRAINING_GROUP, kinds={"faiss"})
def collaborative_index(context: dg.AssetExecutionContext, home: HomeResource
                        ) -> dg.MaterializeResult:
    """Users and items factorised from recent co-engagement, served through FAISS."""
    from ranking.collaborative import build_collaborative

    data_home = home.open()
    with data_home.writing(timeout_s=600) as con:
        try:
            as_of = serving_as_of(con)
            items = build_collaborative(con, data_home.settings, as_of,
                                        data_home.dir("indexes") / "collaborative")
        except ReelrankError as exc:
            context.log.warning(f"no collaborative index this run: {exc}")
            return dg.MaterializeResult(metadata={"skipped": str(exc)})
    return dg.MaterializeResult(metadata={"dagster/row_count": items})


@dg.asset(key=["scoring", "serving_snapshot"],
          deps=[ranker_promoted, item_index, collaborative_index, *FEATURE_ASSETS,
                user_embeddings_asset],
          group_name=SCORING_GROUP, kinds={"parquet"}, op_tags=WRITES)
def serving_snapshot(context: dg.AssetExecutionContext, home: HomeResource
                     ) -> dg.MaterializeResult:
    """Everything `rank a user` reads, exported as files (staged; published with the feeds)."""
    from ranking.serving.export import export_snapshot

    data_home = home.open()
    current = data_home.dir("models") / "ranker" / "current"
    with data_home.writing(timeout_s=600) as con:
        as_of = serving_as_of(con)
        path = export_snapshot(con, data_home.settings, as_of, root=data_home.dir("snapshots"),
                               ranker_dir=current.resolve() if current.exists() else None,
                               indexes=data_home.dir("indexes"))
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    context.log.info(f"serving snapshot {path.name}: {size / 1e6:,.1f} MB")
    return dg.MaterializeResult(metadata={"path": str(path), "as_of": str(as_of),
                                          "bytes": size})


def _staged(context: dg.AssetExecutionContext) -> Path:
    event = context.instance.get_latest_materialization_event(serving_snapshot.key)
    return Path(event.asset_materialization.metadata["path"].value)


def shard_partitions(shards: int) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([str(n) for n in range(shards)])


def scoring_assets(shards: int) -> list:
    partitions = shard_partitions(shards)

    @dg.asset(key=["scoring", "feed_shards"], deps=[serving_snapshot],
              partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
              group_name=SCORING_GROUP, kinds={"parquet"})
    def feed_shards(context: dg.AssetExecutionContext, home: HomeResource
                    ) -> dg.MaterializeResult:
        """Each user's top-100 feed from the staged snapshot, one file per shard of users."""
        from ranking.batch import score_shard, shard_users
        from ranking.pipeline import Engine
        from ranking.serving.snapshot import ServingSnapshot

        data_home = home.open()
        snap = ServingSnapshot.load(_staged(context))
        engine = Engine.load(snap, data_home.settings)
        everyone = snap.active_users()
        out_dir = data_home.dir("feeds") / snap.directory.name
        rows = 0
        control = data_home.control()
        try:
            for key in context.partition_keys:
                shard = int(key)
                report = score_shard(engine, control, shard_users(everyone, shard, shards),
                                     shard=shard, out_dir=out_dir, progress=context.log.info)
                rows += report.rows
                context.log.info(f"shard {shard}: {report.users:,} users, removed "
                                 f"{report.removed}, failed sources {report.failed_sources}")
        finally:
            control.close()
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "dir": str(out_dir)})

    @dg.asset(key=["scoring", "published_feeds"], deps=[feed_shards], group_name=SCORING_GROUP,
              kinds={"parquet"})
    def published_feeds(context: dg.AssetExecutionContext, home: HomeResource
                        ) -> dg.MaterializeResult:
        """Make the staged snapshot and its feeds live, once every shard is there and valid."""
        from ranking.publish import publish_run
        from ranking.serving.export import prune, publish_snapshot

        data_home = home.open()
        snapshot = _staged(context)
        run_dir = data_home.dir("feeds") / snapshot.name
        link = publish_run(data_home.dir("feeds"), run_dir, expected_parts=shards,
                           manifest={"snapshot": snapshot.name, "shards": shards})
        publish_snapshot(data_home.dir("snapshots"), snapshot)
        kept = data_home.settings.snapshots_kept
        pruned = prune(data_home.dir("snapshots"), kept) + prune(data_home.dir("feeds"), kept)
        if pruned:
            context.log.info(f"removed {len(pruned)} old snapshot and feed directories")
        manifest = json.loads((run_dir / "manifest.json").read_text())
        return dg.MaterializeResult(metadata={"dagster/row_count": manifest["rows"],
                                              "latest": str(link.resolve()),
                                              "snapshot": snapshot.name})

    return [feed_shards, published_feeds]
