"""Two API servers, as on two hosts (each its own copy of the home's files), sharing one
control store on a real PostgreSQL server: one scroll limit, one served history and one
revocation between them, online and in the batch.

The home's SQLite store is first moved onto PostgreSQL with `reelrank control copy`, as an
operator would; both servers then run with `REELRANK_CONTROL_URL`."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from reelrank.home import DataHome
from reelrank.settings import Settings
from tests.test_api_support import REELRANK, Server, copy_home, token


def _on(home: DataHome, url: str) -> DataHome:
    return DataHome(root=home.root, settings=Settings(home=home.root, control_url=url))


def _ids(page: dict) -> list[object]:
    return [i["item_id"] for i in page["items"]]


def test_two_servers_on_one_postgres_store_share_one_scroll_limit_and_revocation(
        scored_home: DataHome, tmp_path: Path, postgres_url: str) -> None:
    a_files = copy_home(scored_home, tmp_path / "host-a")
    copied = subprocess.run([REELRANK, "control", "copy", "--home", str(a_files.root),
                             "--to", postgres_url], capture_output=True, text=True, check=False)
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["copied"]["cameo_grants"] > 0
    # The second host has the files only: its control.sqlite is emptied, so whatever it
    # serves right can only come from the shared store.
    b_files = copy_home(scored_home, tmp_path / "host-b")
    b_files.control_path.unlink()
    home_a, home_b = _on(a_files, postgres_url), _on(b_files, postgres_url)
    # Eight requests at once on a shared CI machine may wait past the feed gate's 60 ms
    # and be shed (503): this test is about the scroll limit, not admission.
    env = {"REELRANK_CONTROL_URL": postgres_url, "REELRANK_API_SHED_AFTER_MS": "10000"}
    with Server(home_a, tmp_path / "a.log", **env) as a, \
            Server(home_b, tmp_path / "b.log", **env) as b:
        control = home_a.control()
        (child, guardian_id) = control.execute(
            "SELECT child_id, guardian_id FROM guardians ORDER BY child_id").fetchone()
        grants = pl.DataFrame(control.execute(
            "SELECT owner_id, grantee_id FROM cameo_grants WHERE revoked_at IS NULL"
        ).fetchall(), schema=["owner_id", "creator_id"], orient="row")
        supervised = {u for row in control.execute(
            "SELECT child_id, guardian_id FROM guardians").fetchall() for u in row}
        control.close()

        # One scroll limit: the guardian sets 9 on host A; the child's requests, at once on
        # both hosts, get 9 items between them, never more.
        guardian = a.client(token(home_a, "guardian", guardian_id))
        assert guardian.patch(f"/v1/guardian/children/{child}",
                              json={"scroll_limit": 9}).status_code == 200
        guardian.delete(f"/v1/guardian/children/{child}/override")
        bearer = token(home_b, "user", child)
        clients = [a.client(bearer), b.client(bearer)] * 4

        def page(client: object) -> dict:
            response = client.get("/v1/feed", params={"limit": 2})  # type: ignore[attr-defined]
            assert response.status_code == 200, response.text
            return response.json()

        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(page, clients))
        assert sum(len(p["items"]) for p in pages) == 9  # 8 requests of 2, a limit of 9
        for client in clients[:2]:
            assert page(client)["items"] == [] and page(client)["remaining_today"] == 0

        # One served history: a person scrolling on one host, then the other, is not shown
        # again what the other host served (written at most `history_flush_ms` later).
        scroller = next(u for u in pl.read_parquet(
            b_files.dir("feeds") / "latest" / "*.parquet")["user_id"] if u not in supervised)
        bearer = token(home_a, "user", scroller)
        seen: list[object] = []
        for client in [a.client(bearer), b.client(bearer)] * 3:
            seen += _ids(page(client))
            time.sleep(0.3)
        assert len(seen) == 12 and len(set(seen)) == 12

        # One revocation: an owner revokes on host A; host B's next page for a viewer whose
        # precomputed feed shows that cameo leaves it out.
        cameos = (pl.read_parquet(b_files.dir("snapshots") / "latest" / "items.parquet")
                  .select("item_id", "creator_id", pl.col("cameo_user_ids").alias("owner_id"))
                  .explode("owner_id").filter(pl.col("owner_id") != pl.col("creator_id"))
                  .join(grants, on=["owner_id", "creator_id"]))
        shown = (pl.read_parquet(b_files.dir("feeds") / "latest" / "*.parquet")
                 .join(cameos, on="item_id")
                 .filter(~pl.col("user_id").is_in(list(supervised)), pl.col("position") <= 40)
                 .sort("user_id", "position"))
        viewer, owner, creator = shown.select("user_id", "owner_id", "creator_id").row(0)
        gone = set(cameos.filter((pl.col("owner_id") == owner)
                                 & (pl.col("creator_id") == creator))["item_id"])
        revoked = a.client(token(home_a, "user", owner)).delete(f"/v1/cameos/grants/{creator}")
        assert revoked.status_code == 200, revoked.text
        after = b.client(token(home_b, "user", viewer)).get("/v1/feed", params={"limit": 50})
        assert after.status_code == 200
        assert not gone & set(_ids(after.json()))
        listed = b.client(token(home_b, "user", owner)).get("/v1/cameos/grants").json()
        assert creator not in [g["grantee_id"] for g in listed["grants"]]

    # The batch reads the same store: host B's shard step, scoring that viewer again (whose
    # last night's list showed the cameo in its first 40), leaves the revoked cameo out.
    from ranking.batch import score_shard
    from ranking.engine import Engine
    from ranking.snapshot.reader import ServingSnapshot

    engine = Engine.load(ServingSnapshot.load(b_files.dir("snapshots") / "latest"),
                         home_b.settings)
    control = home_b.control()
    try:
        report = score_shard(engine, control, pl.Series("user_id", [viewer]), shard=0,
                             out_dir=tmp_path / "feeds")
    finally:
        control.close()
    batch = pl.read_parquet(report.path)["item_id"].to_list()
    assert batch and not gone & set(batch)


def test_the_simulators_sandbox_copies_a_postgres_store_and_writes_nothing_back(
        tmp_path: Path, postgres_url: str) -> None:
    from cli.sessions.sandbox import sandbox
    from reelrank.control.grants import grant, live_to
    from tests.control.conftest import NOW

    home = DataHome.open(tmp_path / "home", Settings(home=tmp_path / "home",
                                                      control_url=postgres_url))
    control = home.control()
    grant(control, 7, 8, now=NOW)
    with sandbox(home) as scratch:
        assert scratch.settings.control_url is None
        copy = scratch.control()
        assert live_to(copy, [8]) == {(7, 8)}
        grant(copy, 9, 8, now=NOW)
        copy.close()
    assert live_to(control, [8]) == {(7, 8)}
    control.close()


def test_the_api_pool_drops_a_connection_the_server_closed(tmp_path: Path,
                                                           postgres_url: str) -> None:
    import psycopg
    import pytest

    from api.pool import ControlPool
    from reelrank.control.connection import TRANSIENT_ERRORS

    home = DataHome.open(tmp_path / "home", Settings(home=tmp_path / "home",
                                                      control_url=postgres_url))
    pool = ControlPool(home, keep=2)
    with pool.connection() as con:
        pid = con.raw.info.backend_pid  # type: ignore[attr-defined]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(TRANSIENT_ERRORS), pool.connection() as con:  # a server restart
        con.execute("SELECT 1")
    with pool.connection() as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
        assert con.raw.info.backend_pid != pid  # type: ignore[attr-defined]
    pool.close()
