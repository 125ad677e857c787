"""A page of feed for one request: the live feed. No item served to the user in the last
`served_window_hours` comes back while anything else is servable; nothing the user engaged
with since the snapshot comes back at all; the feed does not end until the catalog's servable
items do (or a guardian's scroll limit for the day is reached).

A request reads the user's session once (`api.session`: served history, events since the
snapshot), then takes, in order: the batch's precomputed page when it is still valid (same
snapshot, a personalized account, no taste vector from chat after an opt-out, nothing new
from the user's people, nothing the user did since that it cannot know), minus what the
session excludes; else an online ranking that excludes it (sources reaching deeper, the
catalog as backfill). Only if that leaves the page short do served items come back, oldest
first. In every case the policy is re-applied against the live control store and the day's
scroll allowance claimed atomically; what is returned is recorded as served.

A personalization-off account uses no per-user signal (hard rule 2): its pages are the
unpersonalized ranking of its country, less what was served to it within the window (the
feed's own delivery record, as the scroll limit's count is), so it does not repeat itself
either.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from api.cursor import Cursor, CursorKey
from api.experiments import Arm, ExperimentRouter, team_draft
from api.history import HistoryWriter
from api.reasons import reason_for, reasons_for
from api.session import SessionReader, stored_feeds
from ranking.engine import Engine, Page
from ranking.policy import GrantCache, claim_served, read_live, servable
from ranking.session import Session
from ranking.snapshot.overlay import LiveItems
from ranking.snapshot.view import View, view_of
from reelrank.control.connection import Connection, stamp
from reelrank.control.inbox import events_after
from reelrank.control.items import new_generated_items
from reelrank.control.labels import label_changes

__all__ = ["FeedItem", "FeedPage", "FeedService", "reason_for"]

# Events that count as a win for an item in the live statistics.
_WINS = frozenset({"complete", "like", "share", "comment", "remix"})


@dataclass(frozen=True)
class FeedItem:
    item_id: object
    score: float
    source: str
    reason: str
    position: int = 0


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    cursor: str | None
    remaining_today: int | None
    precomputed: bool
    removed: dict[str, int]
    request_id: str = ""
    degraded: bool = False


class FeedService:
    """Holds one engine, what changed since its snapshot (an overlay this service owns
    and replaces whole, never edits: items made since, moderators' labels), and, when the
    batch wrote them for the same snapshot, its pages. `history`: the process's
    served-history writer (None: nothing is recorded, e.g. in a notebook); `keys_dir`:
    where the cursor signing key lives (None: a key of this object's own)."""

    def __init__(self, engine: Engine, feeds_dir: Path | None, *,
                 history: HistoryWriter | None = None, keys_dir: Path | None = None,
                 grants: GrantCache | None = None) -> None:
        self.engine = engine
        self.grants = grants  # the process's live grants (None: each request looks them up)
        self.snapshot = engine.snap.directory.name
        self.items = LiveItems.empty(engine.snap)
        self.history = history
        self.keys = CursorKey(keys_dir)
        self.sessions = SessionReader(engine.settings, history)
        self._lock = threading.Lock()
        self._live_seq = 0
        self._label_seq = 0
        self._event_seq = 0
        self._as_of = stamp(datetime.fromtimestamp(engine.snap.as_of_s, UTC))
        self._live_creators: set[int] = set()
        self._pages, self._feeds = stored_feeds(feeds_dir, self.snapshot)
        self._plain: dict[str, Page] = {}  # country -> unpersonalized page, for overload
        self.experiments = ExperimentRouter(engine)

    @property
    def precomputed_users(self) -> int:
        return len(self._pages)

    def sync(self, control: Connection) -> int:
        """Add generations finished since the last call (same-day reach: a friend's next
        request can show them), apply moderators' labels set since (the next request
        is ranked under them) and count the events posted since into the live item
        statistics (exploration learns during the day). Three indexed reads when there is
        nothing new."""
        with self._lock:
            fresh = new_generated_items(control, after_seq=self._live_seq)
            labels = self._labels_since(control)
            counts = self._counts_since(control)
            if not fresh and not labels and not counts:
                return 0
            before = self.items
            items = before.relabel(self.engine.snap, labels).counted(self.engine.snap, counts)
            if fresh:
                self._live_seq = max(int(r["seq"]) for r in fresh)
                items = items.add(self.engine.snap, fresh)
                self._live_creators.update(self.engine.snap.user_row.get(r["creator_id"], -1)
                                           for r in fresh)
            self.items = items  # one reference swap
            return len(self.items) - len(before)

    def _counts_since(self, control: Connection) -> dict[object, tuple[int, int]]:
        """Item -> (impressions, wins) among the events posted since the last call that
        happened on or after the snapshot's day (earlier ones are in its counts); the
        reports among them go to the sessions' report tally."""
        counts: dict[object, list[int]] = {}
        while events := events_after(control, self._event_seq):
            self.sessions.reports.add((user, item, at) for _seq, user, item, kind, _ts, at
                                      in events if kind == "report")
            for _seq, _user, item, kind, ts, _at in events:
                if ts is None or str(ts) < self._as_of:
                    continue
                if kind == "impression":
                    counts.setdefault(item, [0, 0])[0] += 1
                elif kind in _WINS:
                    counts.setdefault(item, [0, 0])[1] += 1
            self._event_seq = events[-1][0]
        return {item: (shown, won) for item, (shown, won) in counts.items()}

    def _labels_since(self, control: Connection) -> dict[object, str]:
        """Item -> its newest label among the changes since the last call (all of them,
        the first time: labels set before this snapshot was made are in it already, and
        applying them again changes nothing)."""
        labels: dict[object, str] = {}
        while changes := label_changes(control, after_seq=self._label_seq):
            labels.update((item, label) for _seq, item, label in changes)
            self._label_seq = changes[-1][0]
        return labels

    def page(self, control: Connection, user_id: object, *, limit: int,
             cursor: str | None, now: datetime, degrade: bool = False) -> FeedPage:
        """`degrade`: the request has waited past its budget; serve the batch's page or a
        cached unpersonalized one rather than rank online (the policy applied live)."""
        request_id, at = self.scroll(user_id, cursor, now)
        self.sync(control)
        items = self.items  # read once: this request ranks on exactly these
        view = view_of(self.engine.snap, items)
        live = read_live(control, [user_id], now, grants=self.grants)
        policy = live.policy(user_id)
        session = (self.sessions.read(control, user_id, view, now) if policy.personalized
                   else self.sessions.read_safety(control, user_id, view, now))
        arm = None if degrade else self.experiments.arm(control, user_id, policy, now)
        engine = arm.engines[0] if arm is not None else self.engine
        query = engine.query(user_id, policy, session, view, live.controls_of(user_id))
        degraded, teams = False, None
        if not policy.personalized:
            page, removed, precomputed = self._unpersonalized(query, live, view, items, limit)
        elif degrade:
            page, removed, precomputed = self._cheap(query, live, view, limit)
            degraded = True
        elif arm is not None and arm.teams:
            page, removed, teams = self._interleaved(arm, query, live, items, limit,
                                                     request_id)
            precomputed = False
        else:
            page, removed, precomputed = self._personal(
                query, live, view, items, limit, engine=engine,
                batch=arm is None or arm.plain)
        allowed = claim_served(control, policy, len(page.item_ids), now)
        ids, sources = page.item_ids[:allowed], page.sources[:allowed]
        reasons = reasons_for(view, query, ids, sources)
        shown = [FeedItem(i, float(s), src, why, at.offset + n + 1)
                 for n, (i, s, src, why) in enumerate(zip(ids, page.scores[:allowed], sources,
                                                          reasons, strict=True))]
        return self.finish(user_id, policy, at, shown, allowed, limit, now, request_id,
                           precomputed=precomputed, removed=removed, degraded=degraded,
                           arm=arm, teams=teams)

    def _interleaved(self, arm: Arm, query, live, items: LiveItems | None, limit: int,
                     request_id: str) -> tuple[Page, dict[str, int], list[int]]:
        """Both teams rank the same request online (same exclusions, same policy); the
        page merges them by team draft, each item remembering whose pick it was."""
        session = {query.user_id: query.session}
        outs = [engine.rank([query.user_id], live, items, session, first=limit)
                for engine in arm.engines]
        page, teams = team_draft(outs[0].pages[0], outs[1].pages[0], limit, request_id)
        return page, {**outs[1].removed, **outs[0].removed}, teams

    def scroll(self, user_id: object, cursor: str | None, now: datetime,
               mode: str = "for_you") -> tuple[str, Cursor]:
        """This request's id, and where in the scroll it is: a new scroll without a
        cursor, else the one `cursor` names (422 when it is not this user's and mode's,
        or too old)."""
        request_id = uuid.uuid4().hex
        at = Cursor(str(user_id), 0, request_id, self.snapshot, now.timestamp(), mode)
        if cursor is not None:
            at = self.keys.decode(cursor, user=user_id, now_s=now.timestamp(),
                                  max_age_s=self.engine.settings.cursor_max_age_hours * 3600,
                                  mode=mode)
        return request_id, at

    def finish(self, user_id: object, policy, at: Cursor, shown: list[FeedItem],
               allowed: int, limit: int, now: datetime, request_id: str, *,
               precomputed: bool, removed: dict[str, int], degraded: bool = False,
               record: bool = True, after: tuple[float, str] | None = None,
               arm: Arm | None = None, teams: list[int] | None = None) -> FeedPage:
        """The page as answered: what it served recorded (`record`; with the experiment's
        variant, or each item's interleaving team, when `arm` is set), what is left of the
        day's scroll allowance, and the next cursor while there is more (`after`: where a
        keyset scroll stands)."""
        if self.history is not None and record:
            served_at = stamp(now)
            exposures = None
            if arm is not None:
                name = arm.experiment.name
                exposures = [(request_id, item.position, name, arm.variant,
                              arm.teams[teams[n]] if teams is not None else None, user_id,
                              item.item_id, served_at) for n, item in enumerate(shown)]
            self.history.add([(user_id, item.item_id, served_at, request_id, item.position)
                              for item in shown], exposures)
        more = len(shown) == limit and (policy.daily_limit is None
                                        or policy.served_today + allowed < policy.daily_limit)
        remaining = None
        if policy.daily_limit is not None:
            remaining = max(policy.daily_limit - policy.served_today - allowed, 0)
        next_at = replace(at, offset=at.offset + len(shown), snapshot=self.snapshot,
                          issued_s=now.timestamp(), after=after)
        return FeedPage(shown, self.keys.encode(next_at) if more else None, remaining,
                        precomputed, removed, request_id, degraded)

    def _unpersonalized(self, query, live, view: View, items: LiveItems | None, limit: int
                        ) -> tuple[Page, dict[str, int], bool]:
        """The country's unpersonalized ranking without what this account was served in
        the window (each page of a scroll too: no offset into a list that others' events
        reorder), topped up with served items, oldest first, once nothing else is left."""
        out = self.engine.rank([query.user_id], live, items, {query.user_id: query.session},
                               first=limit)
        page = _head(out.pages[0], limit)
        if len(page.item_ids) < limit and len(query.session.served):
            page = self._refill(page, query, live, view, limit)
        return page, out.removed, False

    def _personal(self, query, live, view: View, items: LiveItems | None, limit: int, *,
                  engine: Engine | None = None, batch: bool = True
                  ) -> tuple[Page, dict[str, int], bool]:
        """The batch's page while it lasts (what is left of it once the session's
        exclusions and the live policy are applied), continued by an online ranking
        (`engine`: an experiment variant's; `batch`: whether the batch's page, ranked by
        the served engine, may be used)."""
        engine = engine or self.engine
        user_id, session = query.user_id, query.session
        head, removed = Page(user_id, [], np.empty(0), []), {}
        stored = self._stored(query) if batch else None
        if stored is not None:
            head, removed = self._kept(stored, query, live, view)
            head = _head(head, limit)
            if len(head.item_ids) == limit:
                return head, removed, True
            taken = np.array([view.row_of(i) for i in head.item_ids], dtype=np.int64)
            session = replace(session, served=np.concatenate([session.served, taken]))
        wanted = limit - len(head.item_ids)
        out = engine.rank([user_id], live, items, {user_id: session}, first=wanted)
        page = _join(head, _head(out.pages[0], wanted))
        if len(page.item_ids) < limit and len(query.session.served):
            page = self._refill(page, query, live, view, limit)
        return page, {**out.removed, **removed}, bool(head.item_ids)

    def _cheap(self, query, live, view: View, limit: int) -> tuple[Page, dict[str, int], bool]:
        """Without ranking: what is left of the batch's page, else the unpersonalized page
        of the user's country (ranked once per snapshot and country, then cached), each
        with the live policy and the session's exclusions applied."""
        stored = self._stored(query)
        if stored is not None:
            page, removed = self._kept(stored, query, live, view)
            if page.item_ids:
                return _head(page, limit), removed, True
        country = self.engine.snap.user_country[query.row] if query.row >= 0 else ""
        cached = self._plain.get(country)
        if cached is None:
            plain = replace(live.policy(query.user_id), personalized=False)
            cached = self.engine.rank([query.user_id], replace(live, policies={
                query.user_id: plain})).pages[0]
            self._plain[country] = cached
        page, removed = self._kept(cached, query, live, view)
        return _head(page, limit), removed, False

    def _kept(self, stored: Page, query, live, view: View) -> tuple[Page, dict[str, int]]:
        rows = np.array([view.row_of(i) for i in stored.item_ids], dtype=np.int64)
        known = rows >= 0
        keep, removed = servable(view, query, live, np.where(known, rows, 0))
        keep &= known
        return Page(stored.user_id, [i for i, k in zip(stored.item_ids, keep) if k],
                    stored.scores[keep], [s for s, k in zip(stored.sources, keep) if k]), removed

    def _refill(self, page: Page, query, live, view: View, limit: int) -> Page:
        """Top a short page up with served items, oldest first, that the policy still
        allows (nothing else is servable)."""
        again = query.session.served  # oldest served first
        ids = view.item_ids_of(again)
        unserved = replace(query, session=Session(engaged=query.session.engaged,
                                                  hidden=query.session.hidden))
        keep, _ = servable(view, unserved, live, again)
        extra = [i for i, k in zip(ids, keep) if k and i not in set(page.item_ids)]
        extra = extra[: limit - len(page.item_ids)]
        return Page(page.user_id, [*page.item_ids, *extra],
                    np.concatenate([page.scores, np.zeros(len(extra))]),
                    [*page.sources, *["served before"] * len(extra)])

    def _stored(self, query) -> Page | None:
        span = self._pages.get(query.user_id)
        if span is None or self._feeds is None or not query.policy.personalized:
            return None
        snap = self.engine.snap
        if query.row >= 0 and snap.user_vector_from_chat[query.row] \
                and not query.policy.chat_history:
            return None
        if query.session.reacted or query.controls.reshapes:
            # The user did something since that the batch could not know, or steers their
            # feed (its scores; what the steering filters out goes from any page live).
            return None
        if self._live_creators and query.row >= 0:
            people = snap.people.values[snap.people.of(query.row)]
            if np.isin(people, list(self._live_creators)).any():
                return None  # someone they follow made something since: rank it in
        part = self._feeds.slice(span[0], span[1] - span[0])
        return Page(query.user_id, part["item_id"].to_list(), part["score"].to_numpy(),
                    part["source"].to_list())


def _head(page: Page, n: int) -> Page:
    return Page(page.user_id, page.item_ids[:n], page.scores[:n], page.sources[:n],
                page.personalized)


def _join(first: Page, then: Page) -> Page:
    return Page(first.user_id, [*first.item_ids, *then.item_ids],
                np.concatenate([first.scores, then.scores]), [*first.sources, *then.sources],
                then.personalized)

