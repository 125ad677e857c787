"""Run a phase in a fresh process several times; report median wall time and peak RSS.

Each repeat is its own process, and its peak RSS is read from that process alone
(`os.wait4`), so one phase's memory never leaks into another's figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

__all__ = ["measure", "run_child"]


def run_child(code: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of `code` run in a fresh interpreter."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code], stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"benchmark child failed with exit code {child.returncode}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def measure(code: str, repeats: int, setup: Sequence[str] = ()) -> dict[str, object]:
    """`code` may print one JSON line of extra figures (e.g. row counts) to stdout."""
    walls, peaks, extras = [], [], {}
    for _ in range(repeats):
        for step in setup:
            subprocess.run([sys.executable, "-c", step], check=True)
        wall, peak, stdout = run_child(code)
        walls.append(wall)
        peaks.append(peak)
        lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
        if lines:
            extras = json.loads(lines[-1])
    return {"wall_s_median": statistics.median(walls), "wall_s_all": walls,
            "peak_rss_mb_median": statistics.median(peaks), **extras}
