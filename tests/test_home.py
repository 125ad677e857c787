"""The data home: layout, versioned migrations on open, WAL, and the cross-process lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelrank.control.connection import dialect
from reelrank.control.schema import CONTROL_MIGRATIONS
from reelrank.errors import HomeBusyError, ReelrankError
from reelrank.home import DataHome, resolve_home
from reelrank.stores import WAREHOUSE_MIGRATIONS, current_version


def test_open_creates_the_layout_and_migrates(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    for name in ("models", "indexes", "snapshots", "feeds", "media", "landing", "dagster"):
        assert (home.root / name).is_dir()
    con = home.control()
    assert current_version(con) == len(CONTROL_MIGRATIONS)
    if dialect(con) == "sqlite":
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()
    wh = home.warehouse()
    assert current_version(wh) == len(WAREHOUSE_MIGRATIONS)
    wh.close()


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    DataHome.open(tmp_path / "h")
    con = home.control()
    rows = con.execute("SELECT version FROM schema_migrations").fetchall()
    con.close()
    assert rows == [(m.version,) for m in CONTROL_MIGRATIONS]


def test_a_store_from_a_newer_reelrank_is_refused(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    con = home.control()
    con.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 'x')")
    con.close()
    with pytest.raises(ReelrankError, match="schema version 99, newer than"):
        home.control()


def test_home_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REELRANK_HOME", raising=False)
    assert resolve_home(None) == Path(".reelrank")
    monkeypatch.setenv("REELRANK_HOME", str(tmp_path / "env"))
    assert resolve_home(None) == tmp_path / "env"
    assert resolve_home(tmp_path / "flag") == tmp_path / "flag"


def test_the_write_lock_excludes_another_process(tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "h")
    script = (
        "import time; from reelrank.home import DataHome\n"
        f"h = DataHome.open({str(home.root)!r})\n"
        "with h.write_lock():\n    print('held', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with (pytest.raises(HomeBusyError, match="another reelrank process is writing"),
              home.write_lock(timeout_s=0.2)):
            pass
    finally:
        holder.kill()
        holder.wait()
    started = time.monotonic()
    with home.write_lock(timeout_s=5):
        pass
    assert time.monotonic() - started < 5
