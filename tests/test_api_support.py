"""Helpers the API tests share (this module holds no tests): a copy of the scored test home,
a real `reelrank serve` process on a free port, tokens, and the pipeline's ingest job run
in-process (`run_ingest`, stage 1 of `reelrank run`).

Every API test talks to a real server process over real HTTP; nothing is mocked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import httpx
import polars as pl

from ranking.snapshot.format import file_entries
from ranking.snapshot.frozen import freeze_tables
from reelrank.control.tokens import create_token
from reelrank.home import DataHome

__all__ = ["REELRANK", "Server", "clone_snapshot", "copy_home", "run_ingest", "token"]

REELRANK = str(Path(sys.executable).parent / "reelrank")
READY_TIMEOUT_S = 180.0


def copy_home(source: DataHome, target: Path) -> DataHome:
    """A private copy of a home (symlinks such as `snapshots/latest` kept as links)."""
    shutil.copytree(source.root, target, symlinks=True,
                    ignore=shutil.ignore_patterns("write.lock", "dagster"))
    return DataHome.open(target)


def clone_snapshot(home: DataHome, name: str,
                   edit: Callable[[str, pl.DataFrame], pl.DataFrame | None] | None = None
                   ) -> Path:
    """A copy of the live snapshot as `snapshots/<name>` (not published), with each Parquet
    file `edit` returns a new frame for rewritten and the manifest updated to match, as if
    the pipeline had exported it so."""
    source = (home.dir("snapshots") / "latest").resolve()
    target = home.dir("snapshots") / name
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    edited = False
    for file in list(manifest["files"]):
        if edit is None or not file.endswith(".parquet") or file.startswith("arrays/"):
            continue
        changed = edit(file, pl.read_parquet(target / file))
        if changed is not None:
            changed.write_parquet(target / file)
            edited = True
    if edited:  # the writer computes the arrays from the tables: so does the copy
        freeze_tables(target, manifest["defaults"])
        manifest["files"] = file_entries(target)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target


def token(home: DataHome, scope: str, subject: object) -> str:
    control = home.control()
    try:
        return create_token(control, scope, subject, now=datetime.now(UTC), label="test")
    finally:
        control.close()


def run_ingest(home: DataHome) -> None:
    """The `ingest` job on `home`, as `reelrank run` and the hourly schedule run it: drains
    the API's sign-ups and inbox, loads every landing batch, then the upkeep (erasures,
    retention, the event-key export)."""
    from pipelines.definitions import INGEST_JOB, build_definitions
    from pipelines.instance import instance_for

    with instance_for(home) as instance:
        result = build_definitions(home.root).resolve_job_def(INGEST_JOB).execute_in_process(
            instance=instance, raise_on_error=False)
    assert result.success, [str(e) for e in result.all_events if e.is_failure]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`reelrank serve` in its own process; `client(token)` gives an httpx client for it."""

    def __init__(self, home: DataHome, log: Path, *args: str, **env: str) -> None:
        self.home, self.log_path = home, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [REELRANK, "serve", "--home", str(home.root), "--port", str(self.port),
             "--no-access-log", *args],
            stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "REELRANK_API_SNAPSHOT_POLL_S": "0.2", **env})

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> Self:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready after {timeout_s}s:\n{self.logs()}")

    def client(self, bearer: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._log.close()

    def __enter__(self) -> Self:
        return self.wait_ready()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
