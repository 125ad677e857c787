"""The Following tab (`GET /v1/feed?mode=following`): what the people a user follows, and
their friends, made, newest first, under the same policy as the feed.

Every video by those people, the snapshot's and the ones made since (same-day
generations), ordered by creation time (newest first; ties by item id), with the policy
components of `ranking.pipeline.FOLLOWING_FILTERS` applied live: safety and ratings (a
supervised account sees only items rated safe), reports, muted and blocked creators, cameo
consent. Not the feed's "new to you" filters: a chronological tab shows what was made,
seen or not. The cursor is a position in that order (the creation time and id of the last
item shown), so videos made while the user scrolls do not shift the pages below. Served
items are recorded and the guardian's scroll limit is claimed as for the feed.

It is built from who the user follows, a per-user signal, so an account whose guardian
switched personalization off gets 403 (hard rule 2: that account's feed uses none).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from api.errors import ForbiddenError
from api.feed import FeedItem, FeedPage, FeedService
from ranking.pipeline import FOLLOWING_FILTERS
from ranking.policy import claim_served, read_live, servable
from ranking.snapshot.view import view_of
from ranking.sources.graph import authored
from reelrank.control.connection import Connection

__all__ = ["MODE", "following_page"]

MODE = "following"
REASON = "from people you follow"


def following_page(service: FeedService, control: Connection, user_id: object, *,
                   limit: int, cursor: str | None, now: datetime) -> FeedPage:
    request_id, at = service.scroll(user_id, cursor, now, MODE)
    service.sync(control)
    view = view_of(service.engine.snap, service.items)
    live = read_live(control, [user_id], now)
    policy = live.policy(user_id)
    if not policy.personalized:
        raise ForbiddenError(f"personalization is off for {user_id!r}: the Following tab is "
                             "built from whom the account follows, a per-user signal")
    query = service.engine.query(user_id, policy,
                                 service.sessions.read(control, user_id, view, now), view,
                                 live.controls_of(user_id))
    rows = authored(view, query.row)
    created = view.take("item_created_s", rows)
    item_ids = view.item_ids_of(rows)
    ids = [str(i) for i in item_ids]
    order = sorted(range(len(rows)), key=lambda n: (-created[n], ids[n]))
    if at.after is not None:
        after_s, after_id = at.after
        order = [n for n in order if (-created[n], ids[n]) > (-after_s, after_id)]
    removed: dict[str, int] = {}
    shown_rows: list[int] = []
    # The policy over the ordered rows a page's worth at a time, until the page is full.
    for start in range(0, len(order), max(limit * 2, 64)):
        part = np.array(order[start:start + max(limit * 2, 64)], dtype=np.int64)
        keep, gone = servable(view, query, live, rows[part], FOLLOWING_FILTERS)
        for name, n in gone.items():
            removed[name] = removed.get(name, 0) + n
        shown_rows += part[keep].tolist()[: limit - len(shown_rows)]
        if len(shown_rows) == limit:
            break
    allowed = claim_served(control, policy, len(shown_rows), now)
    shown_rows = shown_rows[:allowed]
    items = [FeedItem(item_ids[n], float(created[n]), MODE, REASON, at.offset + k + 1)
             for k, n in enumerate(shown_rows)]
    after = None
    if shown_rows:
        after = (float(created[shown_rows[-1]]), ids[shown_rows[-1]])
    return service.finish(user_id, policy, at, items, allowed, limit, now, request_id,
                          precomputed=False, removed=removed, after=after)
