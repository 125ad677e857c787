"""`dagster dev` from the repo root serves our definitions (a real webserver on loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QUERY = """{ assetNodes { assetKey { path } } repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { jobs { name } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_dagster_dev_shows_the_assets_and_jobs(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "REELRANK_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-p", str(port), "-h",
         "127.0.0.1"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = _graphql(port)
                if answer.get("data", {}).get("assetNodes"):
                    break
            except OSError:
                pass
            time.sleep(2)
        assert answer is not None, "dagster dev did not answer within 2 minutes"
        keys = {"/".join(n["assetKey"]["path"]) for n in answer["data"]["assetNodes"]}
        assert {"raw/events", "engagement_daily", "features/user", "ranking/ranker",
                "scoring/feed_shards"} <= keys
        jobs = {j["name"] for repo in answer["data"]["repositoriesOrError"]["nodes"]
                for j in repo["jobs"]}
        assert {"ingest", "features", "nightly", "score"} <= jobs
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
