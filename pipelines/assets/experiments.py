"""The experiments' results, computed by the nightly job after the day's events are loaded:
`HOME/reports/experiments.json` (one block per experiment, as `reelrank experiments report
--json` prints it), which the run report shows with plots."""

import json
from datetime import UTC, datetime

import dagster as dg

from pipelines.assets.raw import raw_inputs
from pipelines.assets.training import TRAINING_GROUP
from pipelines.resources import HomeResource

__all__ = ["RESULTS_FILE", "experiment_results_asset"]

RESULTS_FILE = "experiments.json"


@dg.asset(key=["experiments", "results"], deps=[raw_inputs], group_name=TRAINING_GROUP,
          kinds={"python"})
def experiment_results_asset(context: dg.AssetExecutionContext, home: HomeResource
                             ) -> dg.MaterializeResult:
    """Per experiment and variant: engaged rate, completions, likes and shares per
    impression and session length with 95% intervals, the interleaving preference with its
    p-value, and the sample-ratio check."""
    from reelrank.control import experiments as store
    from reelrank.experiment_results import results_of

    data_home = home.open()
    con = data_home.control()
    try:
        names = [e.name for e in store.list_all(con)]
    finally:
        con.close()
    results = {name: results_of(data_home, name) for name in names}
    for name, out in results.items():
        srm = out.get("sample_ratio") or {}
        if srm.get("mismatch"):
            context.log.warning(f"experiment {name}: sample ratio mismatch (p = "
                                f"{srm['p_value']:.2g}); its results cannot be trusted")
    path = data_home.dir("reports") / RESULTS_FILE
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps({"computed_at": datetime.now(UTC).isoformat(),
                               "experiments": results}, indent=1, default=str))
    tmp.replace(path)
    return dg.MaterializeResult(metadata={"experiments": len(results), "path": str(path)})
