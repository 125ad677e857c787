"""Compiled tree inference: the ranker's trees turned into machine code with lleaves.

Measured on the default world's ranker (124 trees, 141 features), 1,000 rows: LightGBM
2.8 ms on 2 threads (5.1 ms on one), lleaves 1.4 ms on one thread, with scores equal to
LightGBM's within 1e-14 (a test holds them within 1e-9). Chosen by the `ranker_backend`
setting; LightGBM remains the reference and the fallback.

A compiled library is native code: loading a corrupt one aborts the process (LLVM's
"Invalid ELF class", exit 134), and another model's library loads without complaint and
scores differently. So a library is never trusted for being there. It lives in a cache
outside any snapshot, keyed by the sha256 of the verified `model.txt` and the compiler's
versions; it is compiled in a child process, and before this process loads it, a child
process loads it and scores probe rows that must equal LightGBM's own scores for the same
model. A library that fails (the child dies, or the scores differ) is deleted and compiled
again once; if that fails too, `CompiledRankerError` says so and the caller serves with
LightGBM. A verified library's sha256 is recorded beside it, so an unchanged file is not
re-checked by every process; the process then loads a private copy of exactly those bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np

from reelrank.checksums import file_sha256
from reelrank.errors import ReelrankError

__all__ = ["CompiledRankerError", "compiled_predict"]

_PROBE_ROWS = 256
_CHILD_TIMEOUT_S = 600.0

# Runs in a child: compile (argv: model, library, "compile") or load and score the probe
# rows (argv: model, library, "score", probe.npy, out.npy).
_CHILD = """
import sys, numpy as np, lleaves
model = lleaves.Model(model_file=sys.argv[1])
model.compile(cache=sys.argv[2])
if sys.argv[3] == "score":
    np.save(sys.argv[5], model.predict(np.load(sys.argv[4]), n_jobs=1))
"""


class CompiledRankerError(ReelrankError):
    """No compiled library that scores like the model could be built or loaded."""


def _child(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        return subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True,
                              text=True, timeout=_CHILD_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CompiledRankerError(f"compiling/loading {args[1]} timed out") from exc


def _probe(n_features: int) -> np.ndarray:
    """Rows that reach many leaves: zeros, missing values, and seeded normals at scales
    that cross typical thresholds (counts, rates, hours)."""
    rng = np.random.default_rng(20_260_101)
    rows = [np.zeros((1, n_features)), np.full((1, n_features), np.nan)]
    for scale in (0.1, 1.0, 10.0, 1000.0):
        block = rng.normal(0, scale, size=(_PROBE_ROWS // 4, n_features))
        block[rng.random(block.shape) < 0.1] = np.nan
        rows.append(np.abs(block) if scale > 1 else block)
    return np.ascontiguousarray(np.vstack(rows), dtype=np.float64)


def _scores_match(model_file: Path, library: Path, reference: np.ndarray, probe: np.ndarray
                  ) -> str | None:
    """None when a child loads `library` and scores `probe` like `reference`; else why."""
    with tempfile.TemporaryDirectory(prefix="reelrank-compiled-") as tmp:
        probe_file, out_file = Path(tmp) / "probe.npy", Path(tmp) / "out.npy"
        np.save(probe_file, probe)
        done = _child(str(model_file), str(library), "score", str(probe_file), str(out_file))
        if done.returncode != 0:
            return f"loading it failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        got = np.load(out_file)
    if got.shape != reference.shape or not np.allclose(got, reference, rtol=0, atol=1e-9):
        return "its scores differ from the model's (a library of another model?)"
    return None


def _build(model_file: Path, library: Path) -> None:
    tmp = library.with_name(f".{library.name}.{uuid.uuid4().hex[:8]}")
    done = _child(str(model_file), str(tmp), "compile")
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise CompiledRankerError(f"compiling {model_file} failed (exit {done.returncode}): "
                                  f"{done.stderr.strip()[-300:]}")
    os.replace(tmp, library)


def compiled_predict(model_file: Path, cache_dir: Path, threads: int = 1
                     ) -> Callable[[np.ndarray], np.ndarray]:
    """A scoring function equal to the LightGBM model in `model_file`, from a verified
    compiled library in `cache_dir`; `CompiledRankerError` when none can be had."""
    try:
        import lightgbm as lgb
        import lleaves
    except ImportError as exc:
        raise CompiledRankerError("ranker_backend 'lleaves' needs the lleaves package "
                                  "(pip install lleaves 'llvmlite==0.44.*')") from exc
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    tag = f"{version('lleaves')}-{version('llvmlite')}-{platform.machine()}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    library = cache_dir / f"ranker-{digest[:16]}-{tag}.so"
    record = library.with_suffix(".verified.json")
    booster = lgb.Booster(model_file=str(model_file))
    probe = _probe(booster.num_feature())
    reference = booster.predict(probe, num_threads=1)
    want = {"model_sha256": digest}
    for attempt in range(2):
        if not library.is_file():
            _build(model_file, library)
        have = file_sha256(library)
        trusted = record.is_file() and json.loads(record.read_text()) == {
            **want, "library_sha256": have}
        problem = None if trusted else _scores_match(model_file, library, reference, probe)
        if problem is None:
            break
        library.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
        if attempt:
            raise CompiledRankerError(f"compiled ranker {library.name} refused: {problem}")
    if not trusted:  # a record already trusted is left as it is (the cache may be read-only)
        tmp_record = record.with_name(f".{record.name}.{uuid.uuid4().hex[:8]}")
        tmp_record.write_text(json.dumps({**want, "library_sha256": have}))
        os.replace(tmp_record, record)
    # Load a private copy of exactly the bytes that were verified.
    with tempfile.TemporaryDirectory(prefix="reelrank-load-") as tmp:
        private = Path(tmp) / library.name
        shutil.copyfile(library, private)
        if file_sha256(private) != have:
            raise CompiledRankerError(f"{library} changed while it was being loaded")
        model = lleaves.Model(model_file=str(model_file))
        model.compile(cache=str(private))
    return lambda matrix: model.predict(matrix, n_jobs=threads)
