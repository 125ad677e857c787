"""Every benchmark script still runs: `python bench/X.py --smoke` (the script's own code path
at tiny sizes, seconds) exits 0 and prints its result.

The README quotes figures from these scripts, so a script that no longer runs at HEAD is a
figure nobody can reproduce. Scripts are found by glob (helpers `bench/_*.py` aside), so a
new one is held to this as soon as it lands; it needs a `--smoke` flag (see
`bench/_smoke.py`). Scripts that need a data home get this session's scored home (built
once for the scoring and serving tests) instead of building their own; those that write into
a home work on a private copy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelrank.home import DataHome

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))
TIMEOUT_S = 300  # each smoke takes seconds to ~30 s alone; a shared machine is slower

# What a script prints as its result when it is not a Markdown table or a JSON object.
RESULT = {
    "scale_snapshot.py": re.compile(r"/snapshots/[^/\s]+\s*$"),  # the published snapshot
    "precompute_feeds.py": re.compile(r"^[\d,]+ users, [\d,]+ rows in .*published",
                                      re.MULTILINE),
}
_TABLE_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$", re.MULTILINE)

pytestmark = pytest.mark.slow  # real processes, but in the default run (`make test`, CI)


def _printed_result(script: str, stdout: str) -> bool:
    if script in RESULT:
        return bool(RESULT[script].search(stdout))
    rule = _TABLE_RULE.search(stdout)
    if rule and re.search(r"^\|.*\|\s*$", stdout[rule.end():], re.MULTILINE):
        return True  # a table with at least one row under its rule
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", stdout, re.MULTILINE):
        try:
            value, _end = decoder.raw_decode(stdout, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            return True
    return False


def test_the_glob_finds_the_scripts() -> None:
    assert {"scale_snapshot.py", "bench_ranking.py", "bench_api.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_runs_in_smoke_mode(script: str, scored_home: DataHome) -> None:
    env = {**os.environ, "REELRANK_BENCH_SMOKE_HOME": str(scored_home.root),
           "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(BENCH / script), "--smoke"],
                              cwd=BENCH.parent, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script} --smoke ran past {TIMEOUT_S}s; stderr:\n"
                    f"{(exc.stderr or b'')[-3000:]!r}")
    took = time.perf_counter() - started
    assert done.returncode == 0, (
        f"{script} --smoke exited {done.returncode} after {took:.0f}s\n"
        f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}")
    assert _printed_result(script, done.stdout), (
        f"{script} --smoke printed no result (a table, JSON, or its summary line):\n"
        f"{done.stdout[-2000:]}")
