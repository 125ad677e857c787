"""Why this item (`GET /v1/feed/items/{item_id}/why`): an explanation that is true by
construction.

- `sources`: the candidate sources that propose the item to this user right now (each one is
  asked, as a feed request asks it);
- `contributions`: the item's three largest positive contributions to the ranker's score for
  this user, from LightGBM's own per-feature attribution (`pred_contrib`, SHAP values of the
  trees), each with the feature's value and plain words that name the feature and state its
  value, never a judgement the value does not support;
- `controls`: the user's own settings that shaped the feed (personalization, chat history,
  blocks, "not interested", reports, steering, mutes, "see fewer", a guardian's scroll
  limit);
- `servable`: whether the policy lets this user see it now, and if not, which rule removed it.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from api.feed import FeedService
from ranking.policy import read_live, servable
from ranking.snapshot.view import view_of
from reelrank.control.connection import Connection
from reelrank.errors import NotFoundError

__all__ = ["explain", "words_for"]

_WINDOW = {"1d": "in the last day", "7d": "in the last 7 days", "28d": "in the last 28 days"}
_ENTITY = (  # longest prefix first: (prefix, who, what)
    ("user_creator_", "you", "this creator's videos"),
    ("user_topic_", "you", "videos on this topic"),
    ("region_item_", "people in your region", "this video"),
    ("creator_", "viewers", "this creator's videos"),
    ("item_", "viewers", "this video"),
    ("user_", "you", "videos"),
)
_ACT = {"completes": "finished", "skips": "skipped", "likes": "liked", "shares": "shared",
        "remixes": "remixed", "comments": "commented on", "not_interested": "marked not "
        "interested"}
_SPECIAL = {
    "content_similarity": lambda v: f"how close it is to what you watch (similarity {v:.2f})",
    "follows_creator": lambda v: ("you follow its creator" if v > 0
                                  else "you do not follow its creator"),
    "same_country": lambda v: ("it was made in your country" if v > 0
                               else "it was made in another country"),
    "item_age_hours": lambda v: f"how new it is ({v:.0f} hours old)",
    "item_duration_s": lambda v: f"its length ({v:.0f} s)",
    "item_cameo_count": lambda v: f"how many people's cameos it has ({v:.0f})",
    "item_is_remix": lambda v: "it is a remix" if v > 0 else "it is not a remix",
    "item_sensitive": lambda v: "it is rated sensitive" if v > 0 else "it is not rated sensitive",
    "user_home_region_share": lambda v: f"how much of your watching is in your home region "
                                        f"({v:.0%})",
}
_METRIC = re.compile(r"^(?P<metric>.+?)(?:_(?P<window>1d|7d|28d))?$")


def words_for(feature: str, value: float) -> str:
    """Plain words for one ranker feature and its value for this (user, item)."""
    if feature in _SPECIAL:
        return _SPECIAL[feature](value)
    for prefix, who, what in _ENTITY:
        if not feature.startswith(prefix):
            continue
        match = _METRIC.match(feature[len(prefix):])
        metric, window = match["metric"], _WINDOW.get(match["window"] or "", "")
        when = f" {window}" if window else ""
        if metric.endswith("_rate") and metric[:-5] in _ACT:
            return f"how often {who} {_ACT[metric[:-5]]} {what}{when} ({value:.0%})"
        if metric == "impressions":
            return f"how many times {who} saw {what}{when} ({value:,.0f})"
        if metric == "watch_s":
            return f"how long {who} watched {what}{when} ({value:,.0f} s)"
        if metric == "engagement_decayed":
            return f"how much {who} engaged with {what} lately (score {value:.2f})"
        if metric == "days_since_last":
            return f"days since {who} last saw {what} ({value:.0f})"
        break
    return f"{feature.replace('_', ' ')} ({value:g})"


def explain(service: FeedService, control: Connection, user: object, item_id: object,
            now: datetime) -> dict[str, object]:
    service.sync(control)
    engine = service.engine
    view = view_of(engine.snap, service.items)
    row = view.row_of(item_id)
    if row < 0:
        raise NotFoundError(f"item {item_id!r} is not in the served catalog")
    live = read_live(control, [user], now)
    policy = live.policy(user)
    session = (service.sessions.read(control, user, view, now) if policy.personalized
               else service.sessions.read_safety(control, user, view, now))
    query = engine.query(user, policy, session, view, live.controls_of(user))
    found, _failed = engine.propose([query], view)
    sources = sorted(source.NAME for source, cands in zip(engine.pipeline.sources, found,
                                                          strict=True)
                     if cands[0] is not None and row in set(cands[0].rows.tolist()))
    keep, removed = servable(view, query, live, np.array([row]), engine.pipeline.filters)
    contributions = []
    if engine.features is not None and policy.personalized and query.row >= 0:
        matrix = engine.features.rows(query.row, np.array([row]), query.vector, view)
        contrib = engine.ranker.booster.predict(matrix, pred_contrib=True)[0][:-1]
        order = [int(n) for n in np.argsort(-contrib, kind="stable")[:3] if contrib[n] > 0]
        contributions = [{"feature": engine.ranker.features[n], "value": float(matrix[0, n]),
                          "contribution": float(contrib[n]),
                          "words": words_for(engine.ranker.features[n], float(matrix[0, n]))}
                         for n in order]
    controls = [("personalized" if policy.personalized else
                 "personalization is off: a ranking by region, freshness and safety only")]
    controls.append("your chat history is used" if policy.chat_history
                    else "your chat history is not used")
    if policy.daily_limit is not None:
        controls.append(f"a guardian's scroll limit: {policy.remaining_today} left today")
    if len(session.muted_creators):
        controls.append(f"you marked {len(session.muted_creators)} creator(s) not interested")
    own = query.controls  # empty when personalization is off: not used then
    for kind in ("more", "less", "no"):
        phrases = [own.directions[n].phrase for n in own.of_kind(kind)]
        if phrases:
            controls.append(f"you asked for {kind} {', '.join(phrases)}")
    if own.muted_words or own.muted_topics:
        controls.append(f"you muted {', '.join([*own.muted_topics, *own.muted_words])}")
    if own.fewer_topics or own.fewer_creators:
        controls.append("you asked to see fewer like " + ", ".join(
            [*own.fewer_topics, *(f"{c}'s videos" for c in own.fewer_creators)]))
    if session.liked:
        controls.append(f"what you liked just now ({len(session.liked)} video(s)) moves "
                        "your feed toward it")
    return {"item_id": item_id, "sources": sources, "servable": bool(keep[0]),
            "removed_by": sorted(name for name, n in removed.items() if n),
            "contributions": contributions, "controls": controls}
