"""Training assets: the candidate ranker and its promotion (gated on validation NDCG), the
content index, the collaborative model and the learned stage's lists. Each returns what the
next step needs (a path, a small report) as its output, which Dagster hands downstream as an
input."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from features.snapshot import serving_as_of
from pipelines.assets.content import item_embeddings, user_embeddings_asset
from pipelines.assets.engagement import engagement_daily
from pipelines.assets.features import FEATURE_ASSETS
from pipelines.resources import HomeResource
from ranking.training import current_ranker_dir, promote, should_promote, train_candidate
from reelrank.errors import NotEnoughHistoryError, ReelrankError

__all__ = [
    "TRAINING_GROUP", "CandidateReport", "collaborative_index", "item_index", "learned_lists",
    "ranker",
    "ranker_not_worse", "ranker_promoted",
]

TRAINING_GROUP = "training"
WRITES = {"reelrank/writes": "warehouse"}


@dataclass(frozen=True)
class CandidateReport:
    """A trained candidate ranker (`path`) and its validation NDCG@10 against the current
    one's on the same rows; or why none was trained (`skipped`)."""

    path: str | None = None
    ndcg: float | None = None
    current_ndcg: float | None = None
    skipped: str | None = None
    young: bool = False  # skipped only because the log is still too short to train on


@dg.asset(key=["ranking", "ranker"], deps=[*FEATURE_ASSETS, user_embeddings_asset],
          group_name=TRAINING_GROUP, kinds={"lightgbm"}, op_tags=WRITES)
def ranker(context: dg.AssetExecutionContext, home: HomeResource) -> dg.Output:
    """A candidate LambdaMART ranker trained on the newest days (not yet promoted)."""
    data_home = home.open()
    with data_home.writing(timeout_s=600) as con:
        try:
            candidate = train_candidate(con, data_home.settings, data_home.dir("models"),
                                        serving_as_of(con))
        except NotEnoughHistoryError as exc:
            # A young deployment still gets features and feeds (ranked by the fallback
            # scorer) rather than a failed night.
            context.log.info(f"no candidate ranker yet: {exc}")
            return dg.Output(CandidateReport(skipped=str(exc), young=True),
                             metadata={"skipped": str(exc)})
        except ReelrankError as exc:
            # Too little history, or days with no rows to learn from: the current ranker
            # (or the fallback scorer) keeps serving and everything else is published.
            context.log.warning(f"no candidate ranker this run: {exc}")
            return dg.Output(CandidateReport(skipped=str(exc)), metadata={"skipped": str(exc)})
    context.log.info(f"candidate ranker {candidate.path.name}: valid NDCG@10 "
                     f"{candidate.ndcg:.4f} (current: {candidate.current_ndcg})")
    report = CandidateReport(str(candidate.path), candidate.ndcg, candidate.current_ndcg)
    return dg.Output(report, metadata={
        "path": str(candidate.path), "valid_ndcg@10": candidate.ndcg,
        "current_valid_ndcg@10": candidate.current_ndcg,
        "best_iteration": candidate.ranker.metrics.get("best_iteration"),
        "features": len(candidate.ranker.features)})


@dg.asset_check(asset=ranker)
def ranker_not_worse(ranker: CandidateReport, home: HomeResource) -> dg.AssetCheckResult:
    """The candidate is not worse than the current ranker on the same rows (a warning when
    it is, or when none could be trained: the current ranker then keeps serving)."""
    tolerance = home.settings().promotion_tolerance
    if ranker.skipped is not None:
        return dg.AssetCheckResult(passed=ranker.young, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"no candidate": ranker.skipped})
    passed = should_promote(ranker.ndcg, ranker.current_ndcg, tolerance)
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata={
        "candidate": ranker.ndcg, "current": ranker.current_ndcg, "tolerance": tolerance})


@dg.asset(key=["ranking", "ranker_promoted"], group_name=TRAINING_GROUP, kinds={"lightgbm"},
          ins={"candidate": dg.AssetIn(key=ranker.key)})
def ranker_promoted(context: dg.AssetExecutionContext, candidate: CandidateReport,
                    home: HomeResource) -> dg.Output:
    """The serving ranker's directory: the candidate when it passes the promotion rule,
    else the current one (None: none yet, the fallback scorer serves)."""
    data_home = home.open()
    models = data_home.dir("models")
    promoted = candidate.path is not None and should_promote(
        candidate.ndcg, candidate.current_ndcg, data_home.settings.promotion_tolerance)
    if promoted:
        promote(models, Path(candidate.path))
    elif candidate.path is not None:
        context.log.warning(f"candidate {candidate.path} is worse than the current ranker; "
                            "keeping the current one")
    current = current_ranker_dir(models)
    return dg.Output(str(current) if current else None, metadata={
        "current": str(current) if current else "none (fallback scorer)",
        "promoted": promoted})


@dg.asset(key=["ranking", "item_index"], deps=[item_embeddings], group_name=TRAINING_GROUP,
          kinds={"faiss"})
def item_index(context: dg.AssetExecutionContext, home: HomeResource) -> dg.Output:
    """The content index over every item embedding (exact or HNSW by catalog size)."""
    from ranking.retrieval import build_content_index

    data_home = home.open()
    con = data_home.warehouse(read_only=True)
    try:
        index = build_content_index(con, data_home.settings)
    finally:
        con.close()
    if index is None:
        context.log.warning("no item embeddings yet: no content index this run")
        return dg.Output(None, metadata={"skipped": "no item embeddings"})
    path = index.save(data_home.dir("indexes") / "content")
    context.log.info(f"item index: {len(index):,} items at {path}")
    return dg.Output(str(path), metadata={"dagster/row_count": len(index), "path": str(path)})


@dg.asset(key=["ranking", "collaborative_index"], deps=[engagement_daily],
          group_name=TRAINING_GROUP, kinds={"faiss"})
def collaborative_index(context: dg.AssetExecutionContext, home: HomeResource) -> dg.Output:
    """The collaborative model of recent co-engagement (EASE, or factors through FAISS)."""
    from ranking.collaborative import build_collaborative

    data_home = home.open()
    directory = data_home.dir("indexes") / "collaborative"
    with data_home.writing(timeout_s=600) as con:
        try:
            items = build_collaborative(con, data_home.settings, serving_as_of(con), directory)
        except ReelrankError as exc:
            context.log.warning(f"no collaborative index this run: {exc}")
            return dg.Output(None, metadata={"skipped": str(exc)})
    return dg.Output(str(directory.parent), metadata={"dagster/row_count": items})


@dg.asset(key=["ranking", "learned"], deps=[engagement_daily], group_name=TRAINING_GROUP,
          kinds={"lightgbm", "torch"}, op_tags=WRITES)
def learned_lists(context: dg.AssetExecutionContext, home: HomeResource) -> dg.Output:
    """The learned collaborative stage's best items per user (`ranking.learned`), fitted on
    the log's own validation carve: for choice-only logs with `learned=auto`, always with
    `learned=on`. Skipped (the other sources serve) when off, too small or too large."""
    from ranking.learned import build_learned, drop_learned, interactions_of, log_kind

    data_home = home.open()
    settings = data_home.settings
    directory = data_home.dir("indexes") / "learned"
    with data_home.writing(timeout_s=600) as con:
        kind = log_kind(con)
        wanted = settings.learned == "on" or (settings.learned == "auto" and kind == "choices")
        as_of = serving_as_of(con)
        frame = interactions_of(con, as_of, kind) if wanted else None
    if frame is None:
        drop_learned(directory)
        return dg.Output(None, metadata={"skipped": f"learned={settings.learned} on a log "
                                                    f"of {kind}"})
    try:
        built = build_learned(frame, settings, as_of, directory, progress=context.log.info)
    except ReelrankError as exc:  # too small or too large: the other sources serve
        drop_learned(directory)
        context.log.warning(f"no learned stage this run: {exc}")
        return dg.Output(None, metadata={"skipped": str(exc)})
    validation = {name: round(row["ndcg@10"], 4)
                  for name, row in built.report.get("validation", {}).items()}
    return dg.Output(str(directory), metadata={
        "chosen": built.chosen, "seconds": built.seconds, "users": built.users,
        "items": built.items, "interactions": built.interactions,
        "validation_ndcg@10": validation, "gate": built.report.get("gate")})
