"""The serving snapshot's format on disk: which files a snapshot holds, its manifest, and the
check that a directory is a whole, uncorrupted snapshot.

A snapshot is a directory of Parquet tables, the ranker and the indexes (hard links when
possible), and `manifest.json`: the format version, the as-of date, the defaults row of each
feature set (the values of an entity with no history), the log kind, the ranker's name, the
embedding model that embedded the captions (`embedding_model`; steering phrases are embedded by
the same), and every file's size and sha256. Everything that writes a snapshot writes its manifest with
`write_manifest`; everything that reads one calls `verify` first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from reelrank.checksums import file_sha256
from reelrank.errors import ReelrankError

__all__ = ["ENTITY_FILES", "FORMAT", "MANIFEST", "file_entries", "verify", "write_manifest"]

MANIFEST = "manifest.json"
FORMAT = 1
# feature set -> file with its features as of the snapshot date
ENTITY_FILES = {name: f"features_{name}.parquet"
                for name in ("user", "item", "creator", "user_creator", "user_topic",
                             "region_item")}


def file_entries(directory: Path) -> dict[str, dict[str, object]]:
    """Every file under `directory` (but the manifest) with its size and sha256."""
    files = sorted(f for f in directory.rglob("*") if f.is_file() and f.name != MANIFEST)
    return {str(f.relative_to(directory)): {"bytes": f.stat().st_size,
                                             "sha256": file_sha256(f)} for f in files}


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {value!r}")


def write_manifest(directory: Path, *, as_of: str, defaults: dict[str, dict[str, object]],
                   log_kind: str, ranker: str | None, **extra: object) -> dict:
    """List every file now in `directory` in a new manifest; returns it. Call last, just
    before the directory is renamed into place."""
    manifest = {"format": FORMAT, "as_of": as_of, "defaults": defaults, "log_kind": log_kind,
                "ranker": ranker, **extra, "files": file_entries(directory)}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_plain))
    return manifest


def _stats(directory: Path, names: list[str]) -> list[list[int]]:
    """What changes whenever a file's bytes do: size, inode, and the change time, which a
    write or even a forged modification time moves."""
    out = []
    for name in [MANIFEST, *names]:
        st = (directory / name).stat()
        out.append([st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns])
    return out


def verify(directory: Path, trusted: Path | None = None) -> dict:
    """The manifest of `directory`, once every file it lists is there with its size and
    sha256; `ReelrankError` naming the first file that is not.

    `trusted`: a folder of records of snapshots already verified whole on this host. When
    the record of `directory` matches every file's size, inode and change time, the files
    are not hashed again (at 1M items that is gigabytes per server process); a successful
    verification writes the record."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ReelrankError(f"{directory}: no readable {MANIFEST} ({exc}); not a snapshot") \
            from exc
    if manifest.get("format") != FORMAT:
        raise ReelrankError(f"{directory}: snapshot format {manifest.get('format')!r}, this "
                            f"version reads {FORMAT}")
    names = sorted(manifest["files"])
    record = trusted / f"{directory.name}.json" if trusted is not None else None
    try:
        if record is not None and json.loads(record.read_text()) == _stats(directory, names):
            return manifest
    except (OSError, ValueError):
        pass  # no record, or a file is missing: verify below
    for name, want in manifest["files"].items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != want["bytes"] \
                or file_sha256(path) != want["sha256"]:
            raise ReelrankError(f"{path}: missing or does not match {MANIFEST}; "
                                "refusing a corrupt or half-written snapshot")
    if record is not None:
        record.parent.mkdir(exist_ok=True)
        tmp = record.with_name(f".{record.name}.{os.getpid()}")
        tmp.write_text(json.dumps(_stats(directory, names)))
        os.replace(tmp, record)
    return manifest
