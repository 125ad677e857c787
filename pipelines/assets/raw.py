"""Raw inputs: whatever landed in HOME/landing/, validated into the warehouse.

One multi-asset, because a landing batch holds several tables that must load in dependency
order (users before the events that name them) within one lock. Each table is its own asset
so later feature assets depend on exactly what they read. After the batches: the pending
erasures, retention and the event-key export (`reelrank.upkeep`).
"""


from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from generation.landing import land_generated_items
from pipelines.partitions import EVENT_DAYS
from pipelines.resources import HomeResource
from reelrank.contracts import INGEST_ORDER
from reelrank.errors import ContractError, IngestError
from reelrank.home import DataHome
from reelrank.inbox import drain_accounts, drain_inbox
from reelrank.ingest import IngestReport, TableReport, ingest_directory
from reelrank.ingest.redact import redact_ips
from reelrank.labels import fold_labels
from reelrank.retention import retire_batch
from reelrank.upkeep import upkeep

__all__ = ["RAW_GROUP", "landing_batches", "raw_inputs"]

RAW_GROUP = "raw"
# Above this share of quarantined records a table's check fails: a feed upstream is broken.
MAX_QUARANTINE_SHARE = 0.01


def landing_batches(home: DataHome) -> list[Path]:
    """Landing batches waiting to load, oldest first (each a directory of input files)."""
    landing = home.dir("landing")
    return sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith("."))


def _table_rows(home: HomeResource, table: str) -> int:
    (exists,) = home.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table])[0]
    return int(home.query(f"SELECT count(*) FROM {table}")[0][0]) if exists else 0


def _check(report: TableReport | None, table: str) -> dg.AssetCheckResult:
    read = report.read if report else 0
    quarantined = report.quarantined if report else 0
    share = quarantined / read if read else 0.0
    return dg.AssetCheckResult(
        check_name="quarantine_share",
        asset_key=dg.AssetKey(["raw", table]),
        passed=share <= MAX_QUARANTINE_SHARE,
        metadata={"read": read, "quarantined": quarantined, "share": share,
                  "top_reasons": dg.MetadataValue.json(
                      dict(sorted((report.reasons if report else {}).items(),
                                  key=lambda kv: -kv[1])[:5]))},
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", t], group_name=RAW_GROUP, skippable=False, kinds={"duckdb"},
                     description=f"raw {t} as ingested (validated against its contract)")
        for t in INGEST_ORDER
    ],
    check_specs=[dg.AssetCheckSpec("quarantine_share", asset=["raw", t]) for t in INGEST_ORDER],
    op_tags={"reelrank/writes": "warehouse"},
)
def raw_inputs(context: dg.AssetExecutionContext, home: HomeResource):
    """Load every landing batch into the warehouse, then move it, scrubbed of raw IPs and
    chat text, to landing/.done/; then apply moderators' labels to the items."""
    data_home = home.open()
    # Sign-ups, generations finished since the last run, then events the API accepted: each
    # becomes one more landing batch (in that order by name, so items can name new users
    # and events both).
    accounts = drain_accounts(data_home)
    if accounts is not None:
        context.log.info(f"landed new sign-ups as {accounts.name}")
    landed = land_generated_items(data_home)
    if landed is not None:
        context.log.info(f"landed new generations as {landed.name}")
    drained = drain_inbox(data_home)
    if drained is not None:
        context.log.info(f"drained the API's event inbox into {drained.name}")
    totals: dict[str, TableReport] = {}
    failed: dict[str, str] = {}
    batches = landing_batches(data_home)
    for n, batch in enumerate(batches, start=1):
        context.log.info(f"landing batch {n}/{len(batches)}: {batch.name}")
        try:
            report: IngestReport = ingest_directory(data_home, batch, progress=context.log.info)
        except (ContractError, IngestError) as exc:
            # A batch whose file breaks its contract as a whole stays in landing/ to be fixed
            # (a rerun then loads the rest of it); it must not hold back the batches after it.
            # (Redacted: the run's log and metadata live under the home as well.)
            problem = redact_ips(str(exc))
            context.log.error(f"landing batch {batch.name} stays in landing/: {problem}")
            failed[batch.name] = problem
            continue
        for t in report.tables:
            prev = totals.get(t.table)
            totals[t.table] = t if prev is None else TableReport(
                t.table, prev.files + t.files, prev.read + t.read, prev.loaded + t.loaded,
                prev.unchanged + t.unchanged, prev.quarantined + t.quarantined,
                prev.refused + t.refused, {**prev.reasons, **t.reasons})
        retire_batch(data_home.dir("landing"), batch, now=datetime.now(UTC))
    # Moderators' labels win over whatever rating the batches just loaded.
    relabelled = fold_labels(data_home)
    if relabelled:
        context.log.info(f"applied moderators' labels to {relabelled} items")
    kept = upkeep(data_home, now=datetime.now(UTC))
    context.log.info(
        f"erased {kept.erased_users} user(s) from the warehouse ({sum(kept.erased_rows.values())}"
        f" rows); pruned {kept.done_batches_pruned} ingested batch(es) and "
        f"{kept.quarantine_pruned} quarantined record(s); exported {kept.event_keys:,} event "
        "keys")
    # Days with new events become partitions of the daily rollup.
    dirty = [str(r[0]) for r in home.query("SELECT day FROM dirty_days ORDER BY day")]
    if dirty:
        context.instance.add_dynamic_partitions(EVENT_DAYS.name, dirty)
    for table in INGEST_ORDER:
        report = totals.get(table)
        yield dg.MaterializeResult(
            asset_key=["raw", table],
            metadata={
                "dagster/row_count": _table_rows(home, table),
                "loaded": report.loaded if report else 0,
                "quarantined": report.quarantined if report else 0,
                "failed_batches": dg.MetadataValue.json(failed),
            },
        )
        yield _check(report, table)
