"""`reelrank serve --workers N`: N API processes on one port, each mapping the same snapshot,
their metrics summed, one policy between them (the control store is shared)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(proc.name))
    return found


def test_two_processes_serve_one_port_and_one_snapshot(scored_home: DataHome,
                                                       tmp_path: Path) -> None:
    home = copy_home(scored_home, tmp_path / "home")
    users = pl.read_parquet(home.dir("feeds") / "latest" / "*.parquet")["user_id"].unique(
        maintain_order=True).head(8).to_list()
    with Server(home, tmp_path / "server.log", "--workers", "2") as server:
        client = server.client(token(home, "service", "app"))
        for _ in range(5):
            for user in users:
                assert client.get("/v1/feed", params={"user_id": user, "limit": 5}
                                  ).status_code == 200
        workers = _children(server.process.pid)  # uvicorn's worker processes
        metrics = client.get("/metrics").text
    served = [line for line in metrics.splitlines()
              if line.startswith("reelrank_http_requests_total") and '"/v1/feed"' in line]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in served) == 40
    assert len(workers) >= 2
