"""The world's output contract: file names, exact schemas, and frames built to them.

Other code (ingest, features, evaluation) reads these files, so the schemas here are the
single statement of their columns and types.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from ._common import TS, format_ids, ts_series
from .catalog import SAFETY_LABELS, Catalog
from .chats import ChatWorld
from .geo import country_codes
from .population import DM_POLICIES, Guardians, Population
from .social import Social
from .vocab import TOPIC_NAMES

__all__ = ["SCHEMAS", "cameo_lists", "chats_frame", "friendships_frame", "grants_frame",
           "guardians_frame", "id_width", "items_frame", "settings_frame", "truth_items_frame",
           "truth_users_frame", "users_frame"]

_S = pl.String
SCHEMAS: dict[str, pl.Schema] = {
    "users": pl.Schema({"user_id": _S, "created_at": TS, "birth_year": pl.Int16,
                        "country": _S}),
    "items": pl.Schema({"item_id": _S, "creator_id": _S, "created_at": TS, "text": _S,
                        "cameo_user_ids": pl.List(_S), "duration_s": pl.Float32,
                        "safety_label": _S, "remix_of": _S, "topic": _S}),
    "events": pl.Schema({"event_id": _S, "user_id": _S, "item_id": _S, "event_type": _S,
                         "ts": TS, "watch_ms": pl.Int32, "ip": _S}),
    "follows": pl.Schema({"follower_id": _S, "followee_id": _S, "created_at": TS}),
    "friendships": pl.Schema({"user_a": _S, "user_b": _S, "created_at": TS}),
    "cameo_grants": pl.Schema({"owner_id": _S, "grantee_id": _S, "granted_at": TS,
                               "revoked_at": TS}),
    "user_settings": pl.Schema({"user_id": _S, "chat_personalization": pl.Boolean,
                                "updated_at": TS}),
    "guardians": pl.Schema({"child_id": _S, "guardian_id": _S, "personalization": pl.Boolean,
                            "scroll_limit": pl.Int32, "dm_policy": _S, "linked_at": TS}),
    "chats": pl.Schema({"chat_id": _S, "user_id": _S, "ts": TS, "text": _S}),
    "truth_users": pl.Schema({"user_id": _S, "interests": pl.List(pl.Float32),
                              "activity": pl.Float32}),
    "truth_items": pl.Schema({"item_id": _S, "topic": pl.Int32, "quality": pl.Float32}),
}


def id_width(count: int) -> int:
    """Seven digits ("u0000001") unless the world is larger than that."""
    return max(7, len(str(count)))


def _ids(names: pl.Series, index: np.ndarray, name: str) -> pl.Series:
    return names.gather(np.asarray(index, dtype=np.int64)).rename(name)


def users_frame(people: Population, user_ids: pl.Series) -> pl.DataFrame:
    codes = pl.Series(country_codes())
    return pl.DataFrame([user_ids.rename("user_id"), ts_series("created_at", people.created_us),
                         pl.Series("birth_year", people.birth_year, dtype=pl.Int16),
                         codes.gather(people.country).rename("country")])


def cameo_lists(catalog: Catalog, user_ids: pl.Series) -> pl.Series:
    """`cameo_user_ids` as a List(String) column from the catalog's CSR arrays."""
    values = user_ids.gather(catalog.cameo_users).to_arrow()
    offsets = pa.array(catalog.cameo_offsets.astype(np.int32), type=pa.int32())
    lists = pl.from_arrow(pa.ListArray.from_arrays(offsets, values))
    return lists.cast(pl.List(pl.String)).rename("cameo_user_ids")


def items_frame(catalog: Catalog, item_ids: pl.Series, user_ids: pl.Series,
                texts: list[str]) -> pl.DataFrame:
    remix = _ids(item_ids, np.maximum(catalog.remix_of, 0), "remix_of")
    return pl.DataFrame([
        item_ids.rename("item_id"), _ids(user_ids, catalog.creator, "creator_id"),
        ts_series("created_at", catalog.created_us), pl.Series("text", texts, dtype=pl.String),
        cameo_lists(catalog, user_ids),
        pl.Series("duration_s", catalog.duration_s, dtype=pl.Float32),
        pl.Series(SAFETY_LABELS).gather(catalog.safety).rename("safety_label"),
        remix.set(pl.Series(catalog.remix_of < 0), None),
        pl.Series(TOPIC_NAMES).gather(catalog.topic).rename("topic"),
    ])


def friendships_frame(social: Social, user_ids: pl.Series) -> pl.DataFrame:
    frame = pl.DataFrame([_ids(user_ids, social.friend_a, "user_a"),
                          _ids(user_ids, social.friend_b, "user_b"),
                          ts_series("created_at", social.friend_us)])
    return frame.sort("created_at", "user_a", "user_b")


def grants_frame(social: Social, user_ids: pl.Series) -> pl.DataFrame:
    frame = pl.DataFrame([_ids(user_ids, social.grant_owner, "owner_id"),
                          _ids(user_ids, social.grant_grantee, "grantee_id"),
                          ts_series("granted_at", social.granted_us),
                          ts_series("revoked_at", social.revoked_us)])
    return frame.sort("granted_at", "owner_id", "grantee_id")


def settings_frame(chats: ChatWorld, user_ids: pl.Series) -> pl.DataFrame:
    return pl.DataFrame([user_ids.rename("user_id"),
                         pl.Series("chat_personalization", chats.opted_in, dtype=pl.Boolean),
                         ts_series("updated_at", chats.updated_us)])


def guardians_frame(guardians: Guardians, user_ids: pl.Series) -> pl.DataFrame:
    limit = pl.Series("scroll_limit", guardians.scroll_limit, dtype=pl.Int32)
    frame = pl.DataFrame([
        _ids(user_ids, guardians.child, "child_id"),
        _ids(user_ids, guardians.guardian, "guardian_id"),
        pl.Series("personalization", guardians.personalization, dtype=pl.Boolean),
        limit.set(pl.Series(guardians.scroll_limit == 0), None),
        pl.Series(DM_POLICIES).gather(guardians.dm_policy).rename("dm_policy"),
        ts_series("linked_at", guardians.linked_us),
    ])
    return frame.sort("child_id")


def chats_frame(chats: ChatWorld, user_ids: pl.Series) -> pl.DataFrame:
    n = chats.chat_user.size
    return pl.DataFrame([format_ids("c", np.arange(n), id_width(n) + 1).rename("chat_id"),
                         _ids(user_ids, chats.chat_user, "user_id"),
                         ts_series("ts", chats.chat_us),
                         pl.Series("text", chats.chat_text, dtype=pl.String)])


def truth_users_frame(people: Population, user_ids: pl.Series) -> pl.DataFrame:
    interests = pl.Series("interests", people.interests).cast(pl.List(pl.Float32))
    return pl.DataFrame([user_ids.rename("user_id"), interests,
                         pl.Series("activity", people.activity, dtype=pl.Float32)])


def truth_items_frame(catalog: Catalog, item_ids: pl.Series) -> pl.DataFrame:
    return pl.DataFrame([item_ids.rename("item_id"),
                         pl.Series("topic", catalog.topic, dtype=pl.Int32),
                         pl.Series("quality", catalog.quality, dtype=pl.Float32)])
