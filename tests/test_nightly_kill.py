"""kill -9 of the nightly run, at several points: the served snapshot stays live (what
`snapshots/latest` names still verifies and loads, and a server serves it), and the next run
succeeds. The run is a real `run_nightly` in its own process, killed with SIGKILL (no
handler runs) once its log shows a chosen step at work, plus a moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ranking.snapshot.format import verify
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token

pytestmark = pytest.mark.slow

_RUN = """
import sys
from cli.runner import run_nightly
from pipelines.resources import EmbedderResource
from reelrank.home import DataHome
summary = run_nightly(DataHome.open(sys.argv[1]), embedder=EmbedderResource(backend="hashing"),
                      progress=print)
print("SUCCESS" if summary.success else "FAILED", flush=True)
sys.exit(0 if summary.success else 1)
"""
# (a line of the run's log, seconds after it before the kill): while the ranker trains
# (its step follows the user embeddings'), and once the new snapshot is staged and the
# feeds are half scored (neither published yet).
_POINTS = (
    (" - features__user_embeddings - ", 1.0),
    (" - scoring__feed_shards.score_shard_step[1] - shard 1:", 0.0),
)


def _run(home: DataHome, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _RUN, str(home.root)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            cwd=Path(__file__).resolve().parents[1])


def _kill_at(process: subprocess.Popen, log: Path, marker: str, delay_s: float,
             timeout_s: float = 400) -> bool:
    """SIGKILL `process` `delay_s` after `marker` appears in its log (the run's Dagster
    log lines: `... - <run id> - <step> - <message>`); False if it ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if marker in log.read_text(errors="replace"):
            time.sleep(delay_s)
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            return True
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"{marker!r} did not appear within {timeout_s}s:\n{log.read_text()[-3000:]}")


def _served(home: DataHome) -> str:
    """The snapshot `latest` names, checked as a server checks it before serving."""
    latest = (home.dir("snapshots") / "latest").resolve()
    verify(latest)
    ServingSnapshot.load(latest)
    return latest.name


def test_a_killed_nightly_run_leaves_the_served_snapshot_live_and_the_next_run_succeeds(
        scored_home: DataHome, tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    _served(home)
    killed = []
    for n, (marker, delay) in enumerate(_POINTS):
        log = tmp_path / f"run-{n}.log"
        if _kill_at(_run(home, log), log, marker, delay):
            killed.append(marker)
        _served(home)  # the old snapshot or a complete new one: it verifies and loads
    assert len(killed) == len(_POINTS), f"the run finished before a kill point: {killed}"

    with Server(home, tmp_path / "server.log") as server:
        client = server.client(token(home, "service", "app"))
        user = ServingSnapshot.load(home.dir("snapshots") / "latest").active_users()[0]
        page = client.get("/v1/feed", params={"user_id": user, "limit": 10})
        assert page.status_code == 200 and page.json()["items"], page.text

    before = _served(home)
    log = tmp_path / "run-final.log"
    done = _run(home, log)
    holder = threading.Timer(600, done.kill)
    holder.start()
    try:
        rc = done.wait()
    finally:
        holder.cancel()
    text = log.read_text(errors="replace")
    assert rc == 0 and "SUCCESS" in text, text[-4000:]
    assert _served(home) != before, "the run that followed the kills published nothing"
