"""Where my likeness is used (`GET /v1/cameos/appearances`): every video whose cameo list
holds the caller, from the served snapshot (what the warehouse held last night) and from the
generations finished since (the control store's), with its creator, when it was made,
whether it is servable right now and how often it was served in the last 7 days.

Servable right now: every person in it has a live grant to its creator (hard rule 1, read
live, so a revocation shows here on the next request as it does in every feed), no
moderator or classifier rating made it unsafe, and the snapshot did not rule it out. Revoking
from this list is `DELETE /v1/cameos/grants/{creator_id}`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from api.feed import FeedService
from ranking.snapshot.items import RATINGS
from ranking.snapshot.view import view_of
from reelrank.control.connection import Connection
from reelrank.control.grants import live_to
from reelrank.control.history import served_counts
from reelrank.control.items import appearing_in

__all__ = ["appearances"]

_UNSAFE = RATINGS.index("unsafe")
WEEK = timedelta(days=7)


def _in_snapshot(snap) -> dict[str, tuple[int, ...]]:
    """Person (id as text) -> snapshot rows of the videos they appear in; built once per
    snapshot from its cameo lists."""
    index = snap.memo.get("appearances")
    if index is None:
        built: dict[str, list[int]] = {}
        for row, owners in snap.cameo_owners.items():
            for owner in owners:
                built.setdefault(str(owner), []).append(int(row))
        index = {k: tuple(v) for k, v in built.items()}
        snap.memo["appearances"] = index
    return index


def appearances(service: FeedService, control: Connection, user: object, now: datetime
                ) -> list[dict[str, object]]:
    """The caller's appearances, newest first (ties by item id)."""
    service.sync(control)
    snap = service.engine.snap
    view = view_of(snap, service.items)
    found: dict[object, dict[str, object]] = {}
    for row in _in_snapshot(snap).get(str(user), ()):
        found[snap.item_id_list[row]] = {
            "row": row, "creator_id": snap.creator_id_of(row),
            "cameo_user_ids": list(snap.owners_of(row)),
            "created_s": float(snap.item_created_s[row])}
    for item in appearing_in(control, user):
        if item["item_id"] in found:
            continue
        created = item["created_at"]
        created_s = (datetime.fromisoformat(created) if isinstance(created, str)
                     else created).timestamp()
        found[item["item_id"]] = {
            "row": view.row_of(item["item_id"]), "creator_id": item["creator_id"],
            "cameo_user_ids": list(item["cameo_user_ids"]), "created_s": created_s,
            "rating": item.get("safety_label") or "unrated"}
    if not found:
        return []
    pairs = {(o, v["creator_id"]) for v in found.values() for o in v["cameo_user_ids"]
             if o != v["creator_id"]}
    live = live_to(control, {creator for _o, creator in pairs}) if pairs else set()
    served = served_counts(control, list(found), now - WEEK)
    out = []
    for item_id, v in found.items():
        row = int(v["row"])
        consented = all((o, v["creator_id"]) in live for o in v["cameo_user_ids"]
                        if o != v["creator_id"])
        if row >= 0:
            rows = np.array([row])
            rating = RATINGS[int(view.take("item_rating", rows)[0])]
            blocked = bool(view.take("item_unservable", rows)[0])
        else:  # beyond the overlay's room: its own rating until the nightly run
            rating, blocked = str(v["rating"]), False
        out.append({
            "_created_s": float(v["created_s"]), "item_id": item_id, "creator_id": v["creator_id"],
            "created_at": datetime.fromtimestamp(float(v["created_s"]), UTC).isoformat(),
            "cameo_user_ids": v["cameo_user_ids"], "consented": consented,
            "rating": rating, "servable": consented and rating != "unsafe" and not blocked,
            "served_7d": int(served.get(item_id, 0))})
    out.sort(key=lambda a: (-a["_created_s"], str(a["item_id"])))
    return [{k: v for k, v in a.items() if k != "_created_s"} for a in out]
