"""Content assets: item embeddings, opt-in chat interests (with the opt-out purge), and user
embeddings. The text model comes from the `embedder` resource, loaded once per run."""

import dagster as dg

from features.chat import build_chat_interests, purge_opted_out
from features.content import embed_items, user_embeddings
from features.snapshot import serving_as_of
from pipelines.assets.engagement import FEATURES_GROUP, engagement_daily
from pipelines.resources import EmbedderResource, HomeResource
from reelrank.control.user_settings import chat_opted_in

__all__ = ["CONTENT_ASSETS", "chat_interests_only_for_opted_in"]


@dg.asset(key=["features", "item_embeddings"], deps=[dg.AssetKey(["raw", "items"])],
          group_name=FEATURES_GROUP, kinds={"duckdb"}, op_tags={"reelrank/writes": "warehouse"})
def item_embeddings(context: dg.AssetExecutionContext, home: HomeResource,
                    embedder: EmbedderResource) -> dg.MaterializeResult:
    """Caption/prompt embeddings; only texts not already cached (by hash) are embedded."""
    data_home = home.open()
    model = embedder.get(data_home)
    with data_home.writing(timeout_s=600) as con:
        report = embed_items(con, model, progress=context.log.info)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": report.items, "newly_embedded": report.embedded,
        "model": report.model_id})


@dg.asset(key=["features", "chat_interests"],
          deps=[dg.AssetKey(["raw", "chats"]), dg.AssetKey(["raw", "user_settings"]),
                item_embeddings],
          group_name=FEATURES_GROUP, kinds={"duckdb"}, op_tags={"reelrank/writes": "warehouse"})
def chat_interests(context: dg.AssetExecutionContext, home: HomeResource,
                   embedder: EmbedderResource) -> dg.MaterializeResult:
    """Interest vectors and topic weights from opted-in users' chats; first, everything
    derived from the chats of anyone who is not opted in (now) is deleted."""
    data_home = home.open()
    control = data_home.control()
    try:
        opted_in = chat_opted_in(control)
    finally:
        control.close()
    model = embedder.get(data_home)
    with data_home.writing(timeout_s=600) as con:
        purged = purge_opted_out(con, opted_in)
    if purged.deleted.get("chats"):
        # Deleted is not gone from a DuckDB file's bytes: rewrite it (not kept, hard rule 3).
        data_home.rewrite_warehouse()
    with data_home.writing(timeout_s=600) as con:
        report = build_chat_interests(con, model, opted_in, progress=context.log.info)
    context.log.info(f"purged chat-derived rows of opted-out users: {purged.deleted}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": report.users, "opted_in": len(opted_in),
        "snippets": report.snippets, "purged": dg.MetadataValue.json(purged.deleted)})


@dg.asset_check(asset=chat_interests, blocking=True)
def chat_interests_only_for_opted_in(home: HomeResource) -> dg.AssetCheckResult:
    """Hard rule 3 as a check: no chat or chat-derived row exists for anyone not opted in."""
    data_home = home.open()
    control = data_home.control()
    try:
        opted_in = {str(u) for u in chat_opted_in(control)}
    finally:
        control.close()
    tables = {"chats": "true", "chat_interests": "true", "chat_topic_weights": "true",
              "user_embeddings": "from_chat"}
    existing = {r[0] for r in home.query("SELECT table_name FROM information_schema.tables")}
    offenders = {}
    for table, rows in tables.items():
        if table in existing:
            users = {str(r[0]) for r in home.query(
                f"SELECT DISTINCT user_id FROM {table} WHERE {rows}")}
            offenders[table] = len(users - opted_in)
    return dg.AssetCheckResult(passed=not any(offenders.values()), metadata=offenders)


@dg.asset(key=["features", "user_embeddings"],
          deps=[engagement_daily, item_embeddings, chat_interests],
          group_name=FEATURES_GROUP, kinds={"duckdb"}, op_tags={"reelrank/writes": "warehouse"})
def user_embeddings_asset(context: dg.AssetExecutionContext, home: HomeResource,
                          embedder: EmbedderResource) -> dg.MaterializeResult:
    """Each user's vector as of the serving day (rebuilt each run), and as of every day
    the ranker trains on (built once): decayed mean of engaged items, blended with chat
    interests where the user allows it."""
    from ranking.dataset import build_user_embeddings, training_days

    data_home = home.open()
    settings = data_home.settings
    dim = embedder.get(data_home).dim
    with data_home.writing(timeout_s=600) as con:
        as_of = serving_as_of(con)
        report = None if as_of is None else user_embeddings(
            con, as_of, settings.user_embedding_half_life_days,
            settings.chat_interest_weight, dim)
        history = [] if as_of is None else build_user_embeddings(
            con, training_days(con, settings, as_of)[:-1], settings)
    context.log.info(f"user embeddings as of {as_of}: {report}; training days built: "
                     f"{len(history)}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": report.users if report else 0,
        "from_chat": report.from_chat if report else 0, "as_of": str(as_of),
        "training_days_built": len(history)})


CONTENT_ASSETS = [item_embeddings, chat_interests, user_embeddings_asset]
