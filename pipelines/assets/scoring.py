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

__all__ = ["SCORING_GROUP", "scoring_assets", "serving_snapshot"]

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


_ENGINES: dict[tuple[str, str], object] = {}


def _engine(snapshot: str, settings):
    """The engine over `snapshot`, loaded once per process (in-process execution scores
    every shard in one process; each multiprocess step is its own process)."""
    from ranking.engine import Engine
    from ranking.snapshot.reader import ServingSnapshot

    key = (snapshot, settings.model_dump_json())
    if key not in _ENGINES:
        _ENGINES.clear()  # one snapshot at a time
        _ENGINES[key] = Engine.load(ServingSnapshot.load(Path(snapshot)), settings)
    return _ENGINES[key]


def scoring_assets(shards: int) -> list:
    """`feed_shards` (one step per shard, so the multiprocess executor, or a Celery or
    Kubernetes one, runs them in parallel) and `published_feeds`."""

    @dg.op(out=dg.DynamicOut(int))
    def plan_shards():
        """One output per shard of users; each is scored by its own step."""
        for shard in range(shards):
            yield dg.DynamicOutput(shard, mapping_key=str(shard))

    @dg.op(tags=WRITES)
    def score_shard_step(context: dg.OpExecutionContext, home: HomeResource, snapshot: str,
                         shard: int) -> dict:
        """The top-100 feed of every active user of `shard` from the staged snapshot."""
        from ranking.batch import score_shard, shard_users

        data_home = home.open()
        engine = _engine(snapshot, data_home.settings)
        out_dir = data_home.dir("feeds") / engine.snap.directory.name
        control = data_home.control()
        try:
            report = score_shard(engine, control,
                                 shard_users(engine.snap.active_users(), shard, shards),
                                 shard=shard, out_dir=out_dir, progress=context.log.info)
        finally:
            control.close()
        context.log.info(f"shard {shard}: {report.users:,} users, removed {report.removed}, "
                         f"failed sources {report.failed_sources}")
        return {"shard": shard, "users": report.users, "rows": report.rows,
                "dir": str(out_dir)}

    @dg.op
    def all_shards(context: dg.OpExecutionContext, reports: list[dict]) -> dict:
        """Every shard's report, once all of them are written."""
        got = sorted(r["shard"] for r in reports)
        if got != list(range(shards)):
            raise dg.Failure(f"shards {got} reported, {shards} expected")
        rows = sum(r["rows"] for r in reports)
        context.log.info(f"{shards} shards: {sum(r['users'] for r in reports):,} users, "
                         f"{rows:,} rows")
        return {"rows": rows, "dir": reports[0]["dir"]}

    @dg.graph_asset(key=["scoring", "feed_shards"],
                    ins={"snapshot": dg.AssetIn(key=serving_snapshot.key)},
                    group_name=SCORING_GROUP, kinds={"parquet"})
    def feed_shards(snapshot):
        """Each user's top-100 feed from the staged snapshot, one file per shard of users,
        each shard its own step."""
        return all_shards(plan_shards().map(lambda shard: score_shard_step(snapshot, shard))
                          .collect())

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
