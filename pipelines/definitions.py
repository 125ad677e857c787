"""All Dagster wiring, in one place: assets, the nightly job, its schedule, resources.

`dagster dev` (from the repo root) and `reelrank run` load the same definitions; the data
home comes from REELRANK_HOME (default ./.reelrank), or from `reelrank run --home`.
"""

from __future__ import annotations

import os

import dagster as dg

from pipelines.assets.raw import RAW_GROUP, raw_inputs
from pipelines.resources import HomeResource
from reelrank.home import resolve_home

__all__ = ["NIGHTLY_JOB", "build_definitions", "defs"]

NIGHTLY_JOB = "nightly"
# Groups the nightly job materializes, in the order the pipeline reads: later stages add
# their group here and their assets to ASSETS.
NIGHTLY_GROUPS = (RAW_GROUP,)
ASSETS = (raw_inputs,)


def build_definitions(home_path: str | os.PathLike[str] | None = None) -> dg.Definitions:
    nightly = dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.groups(*NIGHTLY_GROUPS),
        description="Refresh inputs and features, retrain, batch-score and publish.",
        tags={"reelrank/writes": "warehouse"},
    )
    return dg.Definitions(
        assets=list(ASSETS),
        jobs=[nightly],
        schedules=[
            dg.ScheduleDefinition(
                name="nightly_schedule", job=nightly, cron_schedule="0 3 * * *",
                execution_timezone="UTC",
                default_status=dg.DefaultScheduleStatus.STOPPED,
            )
        ],
        resources={"home": HomeResource(path=str(resolve_home(home_path).resolve()))},
    )


defs = build_definitions()
