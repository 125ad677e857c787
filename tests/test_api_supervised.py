"""Hard rule 2 through HTTP: a supervised account whose guardian switched personalization off
gets a feed that uses no per-user signal at all.

What proves it: serve two snapshots that are identical except for one child's entire
history (what it watched, its engagement features, its taste and collaborative vectors,
its inferred home region, whom it follows), which the second snapshot replaces with
another user's; the child's page must not change by one item, score or source. The same
surgery on a personalized user must change their page, or the test proves nothing."""

from __future__ import annotations

import polars as pl
import pytest

from ranking.publish import publish_snapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, clone_snapshot, copy_home, token

PER_USER = (
    "features_user.parquet", "features_user_creator.parquet", "features_user_topic.parquet",
    "home_region.parquet", "seen.parquet", "user_embeddings.parquet", "graph.parquet",
    "indexes/collaborative/users.parquet",
)


def _transplant(donors: dict[object, object]):
    """An edit giving each user in `donors` its donor's per-user rows instead of its own."""
    def edit(file: str, frame: pl.DataFrame) -> pl.DataFrame | None:
        if file not in PER_USER:
            return None
        parts = [frame.filter(~pl.col("user_id").is_in(list(donors)))]
        for user, donor in donors.items():
            rows = frame.filter(pl.col("user_id") == donor).with_columns(
                pl.lit(user, dtype=frame.schema["user_id"]).alias("user_id"))
            if "author" in rows.columns:
                rows = rows.filter(pl.col("author") != user)
            parts.append(rows)
        return pl.concat(parts).sort("user_id", maintain_order=True)
    return edit


def _history(home: DataHome) -> pl.DataFrame:
    seen = pl.read_parquet(home.dir("snapshots") / "latest" / "seen.parquet")
    return seen.group_by("user_id").len().sort("len", "user_id", descending=True)


def test_a_non_personalized_childs_feed_ignores_its_own_history(
        scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("api-supervised")
    home = copy_home(scored_home, root / "home")
    control = home.control()
    pairs = control.execute("SELECT child_id, guardian_id FROM guardians").fetchall()
    control.close()
    supervised = {u for pair in pairs for u in pair}
    history = _history(home)
    child = next(u for u in history["user_id"] if u in dict(pairs))
    guardian = dict(pairs)[child]
    regions = pl.read_parquet(home.dir("snapshots") / "latest" / "home_region.parquet")
    region = dict(zip(regions["user_id"], regions["home_region"], strict=True))
    # The donor is a heavy user from another region: even the region inferred from the
    # child's activity changes.
    heavy = [u for u in history["user_id"] if u not in supervised]
    donor = next(u for u in heavy if region[u] != region[child])
    personal = next(u for u in heavy if u != donor)

    def serve(snapshot: str) -> dict[object, list[tuple[object, float, str]]]:
        # A fresh server each time, over a control store without served history: what the
        # first serve showed must not be skipped by the second (a feed does not repeat
        # itself, personalized or not), or the pages would differ for that reason alone.
        control = home.control()
        control.execute("DELETE FROM served_history")
        control.close()
        with Server(home, root / f"server-{snapshot}.log") as server:
            rules = server.client(token(home, "guardian", guardian)).patch(
                f"/v1/guardian/children/{child}", json={"personalization": False,
                                                        "scroll_limit": None})
            assert rules.json()["personalization"] is False
            service = server.client(token(home, "service", "app"))
            path = clone_snapshot(home, snapshot,
                                  _transplant({child: donor, personal: donor})
                                  if snapshot.endswith("other") else None)
            publish_snapshot(home.dir("snapshots"), path)
            assert service.post("/v1/admin/reload").json() == {"snapshot": snapshot,
                                                                "changed": True}
            pages = {}
            for user in (child, personal):
                got = service.get("/v1/feed", params={"user_id": user, "limit": 100})
                assert got.headers["X-Reelrank-Snapshot"] == snapshot
                assert got.headers["X-Reelrank-Feed"] == "online"
                pages[user] = [(i["item_id"], i["score"], i["source"])
                               for i in got.json()["items"]]
            return pages

    same, other = serve("2026-01-10-same"), serve("2026-01-10-other")

    assert len(same[child]) >= 20
    assert same[child] == other[child]
    assert same[personal] != other[personal]  # the surgery is visible to a personal feed
