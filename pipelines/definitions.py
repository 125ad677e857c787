"""All Dagster wiring, in one place: assets, jobs, schedules, resources.

Jobs, in the order data flows:
- `ingest` (hourly): load landing batches into the warehouse; registers new event days.
- `features` (hourly, a quarter past): roll up out-of-date days, refresh feature snapshots.
- `nightly` (03:00 UTC): everything above, then train a candidate ranker (promoted only if
  it is not worse than the current one) and rebuild the item index.
- `refresh` (hourly, half past): the intraday refresh: ingest, features and the content index
  from the events and generations since, with the current ranker (no retraining).
- `score` (after each successful nightly or refresh run): batch-score every active user's
  feed from a new serving snapshot, one partition per shard of users, then publish both.

`dagster dev` (from the repo root) and `reelrank run` load the same definitions; the data
home comes from REELRANK_HOME (default ./.reelrank), or from `reelrank run --home`.
"""

import os

import dagster as dg

from pipelines.assets.content import CONTENT_ASSETS, chat_interests_only_for_opted_in
from pipelines.assets.engagement import FEATURES_GROUP, engagement_daily, engagement_daily_sane
from pipelines.assets.experiments import experiment_results_asset
from pipelines.assets.features import FEATURE_ASSETS
from pipelines.assets.raw import RAW_GROUP, raw_inputs
from pipelines.assets.scoring import SCORING_GROUP, scoring_assets, serving_snapshot
from pipelines.assets.training import (
    TRAINING_GROUP,
    collaborative_index,
    item_index,
    learned_lists,
    ranker,
    ranker_not_worse,
    ranker_promoted,
)
from pipelines.planning import run_plan
from pipelines.resources import EmbedderResource, HomeResource, ModelStore
from reelrank.home import resolve_home

__all__ = [
    "FEATURES_JOB", "INGEST_JOB", "NIGHTLY_GROUPS", "NIGHTLY_JOB", "REFRESH_JOB", "SCORE_JOB",
    "build_definitions", "defs", "keys_in", "refresh_keys", "score_job", "score_run_config",
]

INGEST_JOB = "ingest"
FEATURES_JOB = "features"
NIGHTLY_JOB = "nightly"
SCORE_JOB = "score"
REFRESH_JOB = "refresh"
NIGHTLY_GROUPS = (RAW_GROUP, FEATURES_GROUP, TRAINING_GROUP)
ASSETS = (raw_inputs, engagement_daily, *FEATURE_ASSETS, *CONTENT_ASSETS, ranker,
          ranker_promoted, item_index, collaborative_index, learned_lists,
          experiment_results_asset)
CHECKS = (engagement_daily_sane, chat_interests_only_for_opted_in, ranker_not_worse)
WRITES_WAREHOUSE = {"reelrank/writes": "warehouse"}


def score_job() -> dg.JobDefinition:
    """The score job of the home `REELRANK_HOME` names, rebuilt: what `dg.reconstructable`
    needs, so each step of the multiprocess executor (`reelrank run --processes N`) can
    load it in its own process."""
    return build_definitions().resolve_job_def(SCORE_JOB)


def score_run_config(processes: int) -> dict:
    """Run config for the score job on Dagster's multiprocess executor with at most
    `processes` shard steps at once. In a cluster the same definitions run on another
    executor: `dagster_celery.celery_executor` or `dagster_k8s.k8s_job_executor` as the
    Definitions' `executor`."""
    # forkserver with the definitions preloaded: a step process forks from a server that has
    # already imported Dagster and this project (~0.3 s), rather than starting Python and
    # importing them again (~3-4 s a step, which is most of a small shard's time).
    return {"execution": {"config": {"multiprocess": {
        "max_concurrent": processes,
        "start_method": {"forkserver": {"preload_modules": ["pipelines.definitions"]}}}}}}


def refresh_keys() -> list[dg.AssetKey]:
    """What the intraday refresh recomputes: inputs, features and the content index; the
    ranker and the collaborative model stay as the nightly run left them."""
    return [*keys_in((RAW_GROUP, FEATURES_GROUP)), item_index.key]


def keys_in(groups: tuple[str, ...]) -> list[dg.AssetKey]:
    """Asset keys of the given groups, in definition order."""
    return [key for asset in ASSETS for key, group in asset.group_names_by_key.items()
            if group in groups]


def _planned_schedule(job, groups: tuple[str, ...], cron: str, home: HomeResource,
                      extra: tuple[dg.AssetKey, ...] = ()) -> dg.ScheduleDefinition:
    """A schedule whose runs cover exactly the event days that are out of date."""

    @dg.schedule(name=f"{job.name}_schedule", job=job, cron_schedule=cron,
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED)
    def _schedule(context: dg.ScheduleEvaluationContext):
        tags, selection = run_plan(context.instance, home, [*keys_in(groups), *extra])
        return dg.RunRequest(tags=tags, asset_selection=selection)

    return _schedule


def build_definitions(home_path: str | os.PathLike[str] | None = None,
                      embedder: EmbedderResource | None = None) -> dg.Definitions:
    """The definitions for one data home; `embedder` overrides the text model (tests)."""
    home = HomeResource(path=str(resolve_home(home_path).resolve()))
    ingest = dg.define_asset_job(
        INGEST_JOB, selection=dg.AssetSelection.groups(RAW_GROUP), tags=WRITES_WAREHOUSE,
        description="Load landing batches into the warehouse.")
    features = dg.define_asset_job(
        FEATURES_JOB, selection=dg.AssetSelection.groups(FEATURES_GROUP), tags=WRITES_WAREHOUSE,
        description="Roll up out-of-date event days and refresh the feature snapshots.")
    nightly = dg.define_asset_job(
        NIGHTLY_JOB, selection=dg.AssetSelection.groups(*NIGHTLY_GROUPS), tags=WRITES_WAREHOUSE,
        description="Refresh inputs and features, retrain, batch-score and publish.")
    refresh = dg.define_asset_job(
        REFRESH_JOB, selection=dg.AssetSelection.assets(*refresh_keys()),
        tags=WRITES_WAREHOUSE, description="Intraday: refresh inputs, features and the "
        "content index from what happened since, with the current ranker (no retraining).")
    shards = home.settings().batch_shards  # from the environment: nothing opened at import
    scoring = scoring_assets(shards)
    score = dg.define_asset_job(
        SCORE_JOB, selection=dg.AssetSelection.groups(SCORING_GROUP), tags=WRITES_WAREHOUSE,
        description="Batch-score every active user's feed by shard, then publish the feeds.")

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS,
                          monitored_jobs=[nightly, refresh], request_job=score,
                          default_status=dg.DefaultSensorStatus.STOPPED)
    def score_after_nightly(context: dg.RunStatusSensorContext):
        return dg.RunRequest(run_key=context.dagster_run.run_id)

    return dg.Definitions(
        assets=[*ASSETS, serving_snapshot, *scoring],
        asset_checks=list(CHECKS),
        jobs=[ingest, features, nightly, refresh, score],
        sensors=[score_after_nightly],
        schedules=[
            dg.ScheduleDefinition(name="ingest_schedule", job=ingest, cron_schedule="0 * * * *",
                                  execution_timezone="UTC",
                                  default_status=dg.DefaultScheduleStatus.STOPPED),
            _planned_schedule(features, (FEATURES_GROUP,), "15 * * * *", home),
            _planned_schedule(nightly, NIGHTLY_GROUPS, "0 3 * * *", home),
            _planned_schedule(refresh, (RAW_GROUP, FEATURES_GROUP), "30 * * * *", home,
                              extra=(item_index.key,)),
        ],
        resources={"home": home, "models": ModelStore(path=home.path),
                   "embedder": embedder or EmbedderResource()},
    )


defs = build_definitions()
