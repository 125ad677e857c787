"""The cameo grants' change feed and the API's cache of live grants built on it: every
grant, revocation and erasure lands in the feed in commit order, a cache brought up to date
from it always agrees with the store (hard rule 1: a revocation counts on the next request),
an erasure leaves no id of the erased user in it, and a cache that paused longer than the
feed is kept reads everything again. On each backend."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from ranking import live as live_module
from ranking.live import GrantCache
from ranking.policy import read_live
from reelrank.control import Connection, connect
from reelrank.control.connection import transaction
from reelrank.control.erasure import erase
from reelrank.control.grants import (
    all_live,
    changes_after,
    grant,
    last_change,
    prune_changes,
    revoke,
)
from reelrank.errors import NotFoundError
from tests.control.conftest import NOW

PAIRS = {(o, g) for o in ("ann", "bob", "cat", "dan") for g in ("ann", "bob", "cat", "dan")
         if o != g}


def _refresh(cache: GrantCache, con: Connection) -> None:
    with transaction(con, read_only=True):
        cache.refresh(con)


def test_every_change_lands_in_the_feed_in_order(con: Connection) -> None:
    assert last_change(con) == 0 and changes_after(con, 0) == []
    grant(con, "ann", "bob", now=NOW)
    grant(con, "cat", "dan", now=NOW)
    revoke(con, "ann", "bob", now=NOW + timedelta(minutes=1))
    changes = changes_after(con, 0)
    assert [g for _s, g in changes] == ["bob", "dan", "bob"]
    seqs = [s for s, _g in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and last_change(con) == seqs[-1]
    assert changes_after(con, seqs[0]) == changes[1:]
    assert changes_after(con, 0, limit=2) == changes[:2]


def test_a_cache_agrees_with_the_store_after_every_change(store: Path | str) -> None:
    writer, reader = connect(store), connect(store)
    try:
        rng = np.random.default_rng(3)
        cache = GrantCache()
        _refresh(cache, reader)
        assert cache.live(PAIRS) == set() and cache.reloads == 1
        pairs = sorted(PAIRS)
        for step in range(60):
            owner, grantee = pairs[int(rng.integers(len(pairs)))]
            if rng.random() < 0.5:
                grant(writer, owner, grantee, now=NOW + timedelta(seconds=step))
            else:
                with contextlib.suppress(NotFoundError):   # nothing live to revoke
                    revoke(writer, owner, grantee, now=NOW + timedelta(seconds=step))
            _refresh(cache, reader)
            assert cache.live(PAIRS) == all_live(reader) & PAIRS, step
        assert cache.reloads == 1   # caught up from the feed alone
        # What a request's live state holds is the same cache, brought up to date.
        grant(writer, "dan", "ann", now=NOW + timedelta(hours=1))
        state = read_live(reader, ["ann"], NOW, grants=cache)
        assert state.grants is cache and ("dan", "ann") in cache.live({("dan", "ann")})
    finally:
        writer.close()
        reader.close()


def test_erasure_leaves_no_id_in_the_feed_and_the_cache_reads_everything(
        store: Path | str) -> None:
    writer, reader = connect(store), connect(store)
    try:
        grant(writer, "ann", "bob", now=NOW)
        grant(writer, "bob", "cat", now=NOW)
        grant(writer, "cat", "dan", now=NOW)
        cache = GrantCache()
        _refresh(cache, reader)
        erase(writer, "bob", now=NOW, hide_until=NOW + timedelta(days=1))
        grantees = [g for _s, g in changes_after(writer, 0)]
        assert "bob" not in grantees and None in grantees
        _refresh(cache, reader)
        assert cache.reloads == 2
        assert cache.live(PAIRS | {("cat", "dan")}) == {("cat", "dan")}
    finally:
        writer.close()
        reader.close()


def test_old_changes_are_pruned_and_a_paused_cache_reads_everything(
        store: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, reader = connect(store), connect(store)
    try:
        grant(writer, "ann", "bob", now=NOW)
        cache = GrantCache()
        _refresh(cache, reader)
        assert prune_changes(writer, NOW.replace(year=2000)) == 0
        # The feed's times are the store's clock: everything so far is older than a minute
        # from now.
        later = changes_after(writer, 0)
        assert prune_changes(writer, NOW.replace(year=2100)) == len(later)
        assert changes_after(writer, 0) == []
        revoke(writer, "ann", "bob", now=NOW + timedelta(minutes=1))
        prune_changes(writer, NOW.replace(year=2100))   # pruned before the cache looked
        clock = [1e9]
        monkeypatch.setattr(live_module.time, "monotonic", lambda: clock[0])
        cache._polled_s = clock[0]
        clock[0] += live_module._PAUSE_S + 1
        _refresh(cache, reader)
        assert cache.reloads == 2 and cache.live({("ann", "bob")}) == set()
    finally:
        writer.close()
        reader.close()
