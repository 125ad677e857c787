"""Saving models as numpy files plus a json meta, written to a temporary sibling and renamed,
so a reader sees the old model or the new one, never half of one."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import numpy as np
from scipy import sparse

from reelrank.checksums import file_sha256
from reelrank.errors import ReelrankError

__all__ = ["load_arrays", "pack_csr", "save_arrays", "unpack_csr"]

_META = "meta.json"


def save_arrays(directory: Path, kind: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write each array as `<name>.npy` and `meta.json` (kind, params, sizes, sha256)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = {}
        for name, array in arrays.items():
            path = tmp / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            files[name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        (tmp / _META).write_text(json.dumps({"kind": kind, "meta": meta, "files": files},
                                            indent=2, sort_keys=True))
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_arrays(directory: Path, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and meta `save_arrays` wrote; a file that does not match its checksum, or a
    directory of another kind, is refused."""
    directory = Path(directory)
    try:
        doc = json.loads((directory / _META).read_text())
        if doc.get("kind") != kind:
            raise ReelrankError(f"{directory} holds a {doc.get('kind')!r} model, not {kind!r}")
        arrays = {}
        for name, want in doc["files"].items():
            path = directory / f"{name}.npy"
            if path.stat().st_size != want["bytes"] or file_sha256(path) != want["sha256"]:
                raise ReelrankError(f"{path}: does not match {_META}")
            arrays[name] = np.load(path, allow_pickle=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ReelrankError(f"{directory} does not hold a readable {kind} model ({exc})") from exc
    return arrays, doc["meta"]


def pack_csr(prefix: str, matrix: sparse.csr_matrix) -> dict[str, np.ndarray]:
    return {f"{prefix}_data": matrix.data, f"{prefix}_indices": matrix.indices,
            f"{prefix}_indptr": matrix.indptr, f"{prefix}_shape": np.asarray(matrix.shape)}


def unpack_csr(prefix: str, arrays: dict[str, np.ndarray]) -> sparse.csr_matrix:
    shape = tuple(int(x) for x in arrays[f"{prefix}_shape"])
    return sparse.csr_matrix((arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"],
                              arrays[f"{prefix}_indptr"]), shape=shape)
