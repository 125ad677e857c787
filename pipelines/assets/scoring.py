"""Scoring assets: the serving snapshot (staged, not yet live), the sharded batch scoring of
every active user's feed from it, and publishing both once every shard is valid. The staged
snapshot's path is the `serving_snapshot` output, handed to the later steps as an input."""

from pathlib import Path

import dagster as dg

from features.snapshot import serving_as_of
from pipelines.assets.content import user_embeddings_asset
from pipelines.assets.features import FEATURE_ASSETS
from pipelines.assets.training import (
    collaborative_index,
    item_index,
    learned_lists,
    ranker_promoted,
)
from pipelines.resources import HomeResource, ModelStore

__all__ = ["SCORING_GROUP", "scoring_assets", "serving_snapshot", "shard_partitions"]

SCORING_GROUP = "scoring"
WRITES = {"reelrank/writes": "warehouse"}


@dg.asset(key=["scoring", "serving_snapshot"],
          deps=[*FEATURE_ASSETS, user_embeddings_asset, ranker_promoted, item_index,
                collaborative_index, learned_lists],
          group_name=SCORING_GROUP, kinds={"parquet"}, op_tags=WRITES)
def serving_snapshot(context: dg.AssetExecutionContext, home: HomeResource, models: ModelStore
                     ) -> dg.Output:
    """Everything `rank a user` reads, written as files from the materialized feature
    tables and the newest trained artifacts (staged; published with the feeds)."""
    from ranking.snapshot.writer import export_snapshot

    data_home = home.open()
    ranker_dir = models.serving_ranker()
    with data_home.writing(timeout_s=600) as con:
        as_of = serving_as_of(con)
        path = export_snapshot(con, data_home.settings, as_of, root=data_home.dir("snapshots"),
                               ranker_dir=ranker_dir, indexes=models.indexes())
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    context.log.info(f"serving snapshot {path.name}: {size / 1e6:,.1f} MB, ranker "
                     f"{ranker_dir.name if ranker_dir else 'none (fallback scorer)'}")
    return dg.Output(str(path), metadata={"path": str(path), "as_of": str(as_of),
                                          "bytes": size})


def shard_partitions(shards: int) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([str(n) for n in range(shards)])


def scoring_assets(shards: int) -> list:
    partitions = shard_partitions(shards)

    @dg.asset(key=["scoring", "feed_shards"],
              ins={"snapshot": dg.AssetIn(key=serving_snapshot.key)},
              partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
              group_name=SCORING_GROUP, kinds={"parquet"})
    def feed_shards(context: dg.AssetExecutionContext, home: HomeResource, snapshot: str
                    ) -> dg.MaterializeResult:
        """Each user's top-100 feed from the staged snapshot, one file per shard of users."""
        from ranking.batch import score_shard, shard_users
        from ranking.engine import Engine
        from ranking.snapshot.reader import ServingSnapshot

        data_home = home.open()
        snap = ServingSnapshot.load(Path(snapshot))
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

    @dg.asset(key=["scoring", "published_feeds"], deps=[feed_shards],
              ins={"snapshot": dg.AssetIn(key=serving_snapshot.key)},
              group_name=SCORING_GROUP, kinds={"parquet"})
    def published_feeds(context: dg.AssetExecutionContext, home: HomeResource, snapshot: str
                        ) -> dg.MaterializeResult:
        """Make the staged snapshot and its feeds live, once every shard is there and valid."""
        import json

        from ranking.publish import prune, publish_run, publish_snapshot

        data_home = home.open()
        staged = Path(snapshot)
        run_dir = data_home.dir("feeds") / staged.name
        link = publish_run(data_home.dir("feeds"), run_dir, expected_parts=shards,
                           manifest={"snapshot": staged.name, "shards": shards})
        publish_snapshot(data_home.dir("snapshots"), staged)
        kept = data_home.settings.snapshots_kept
        pruned = prune(data_home.dir("snapshots"), kept)
        # A kept snapshot keeps its precomputed pages (a restarted server serving it wants them).
        kept_names = {p.name for p in data_home.dir("snapshots").iterdir() if p.is_dir()}
        pruned += prune(data_home.dir("feeds"), kept, also_keep=kept_names)
        if pruned:
            context.log.info(f"removed {len(pruned)} old snapshot and feed directories")
        manifest = json.loads((run_dir / "manifest.json").read_text())
        return dg.MaterializeResult(metadata={"dagster/row_count": manifest["rows"],
                                              "latest": str(link.resolve()),
                                              "snapshot": staged.name})

    return [feed_shards, published_feeds]
