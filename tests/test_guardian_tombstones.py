"""An unlink is newer than the link it ended: replaying an old guardians file (`reelrank
ingest`, a real process) after a live unlink (a real server) does not link the child again."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reelrank.control import guardians
from reelrank.home import DataHome
from tests.conftest import tiny_world
from tests.test_api_support import REELRANK, Server, token


def _ingest(home: DataHome, directory: Path) -> None:
    done = subprocess.run([REELRANK, "ingest", str(directory), "--home", str(home.root)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def test_replaying_an_old_guardians_file_does_not_relink_after_an_unlink(
        scored_home: DataHome, tmp_path: Path) -> None:
    from tests.test_api_support import copy_home

    home = copy_home(scored_home, tmp_path / "home")
    files = tiny_world(tmp_path / "files")   # u2 supervised by u1, linked 2026-01-02
    for name in ("users.parquet", "items.parquet", "events.parquet", "cameo_grants.parquet",
                 "user_settings.parquet"):
        (files / name).unlink()
    import polars as pl

    ids = pl.read_parquet(home.dir("snapshots") / "latest" / "users.parquet")["user_id"]
    control = home.control()
    free = [u for u in ids.to_list() if guardians.child_rules(control, u) is None]
    control.close()
    child, guardian = free[0], free[1]
    pl.read_parquet(files / "guardians.parquet").with_columns(
        pl.lit(child).alias("child_id"), pl.lit(guardian).alias("guardian_id")).write_parquet(
        files / "guardians.parquet")
    _ingest(home, files)
    control = home.control()
    assert guardians.child_rules(control, child)["guardian_id"] == guardian
    control.close()
    with Server(home, tmp_path / "server.log") as server, \
            server.client(token(home, "service", "app")) as client:
        assert client.delete(f"/v1/guardian/links/{child}").status_code == 204
        _ingest(home, files)  # the same old file again
        assert client.get(f"/v1/guardian/children/{child}",
                          params={"guardian_id": guardian}).status_code in (403, 404)
    control = home.control()
    assert guardians.child_rules(control, child) is None
    control.close()
