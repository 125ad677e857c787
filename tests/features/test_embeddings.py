"""The embedding interface: the bundled real model (loaded once), configured paths, clear
errors for bad paths, and the hashing test double."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from features.embeddings import (
    BUNDLED_MODEL_NAME,
    Embedder,
    EmbeddingModelError,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    default_model_path,
    load_embedder,
)
from reelrank.settings import Settings


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def minilm(models_dir: Path) -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, extracted from its package and loaded once per session."""
    embedder = load_embedder(Settings(embedding_model=None), models_dir)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


@pytest.mark.slow
def test_bundled_minilm_gives_normalised_384d_vectors_with_sensible_neighbours(
        minilm: SentenceTransformerEmbedder) -> None:
    vectors = minilm.encode(["a kitten playing", "a cat video", "stock market news"])
    assert isinstance(minilm, Embedder)
    assert minilm.dim == 384 and vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    kitten, cat, stocks = vectors
    assert kitten @ cat > kitten @ stocks + 0.2
    assert minilm.model_id.startswith(f"{BUNDLED_MODEL_NAME}-")
    assert minilm.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_bundled_model_is_extracted_once_without_importing_its_package(
        minilm: SentenceTransformerEmbedder, models_dir: Path) -> None:
    target = models_dir / BUNDLED_MODEL_NAME
    assert minilm.path == target and (target / "modules.json").is_file()
    before = (target / "modules.json").stat().st_mtime_ns
    assert default_model_path(models_dir) == target  # reused, not re-extracted
    assert (target / "modules.json").stat().st_mtime_ns == before
    assert [p.name for p in models_dir.iterdir()] == [BUNDLED_MODEL_NAME]  # no temp dirs left
    # Importing the package prints to stdout; locating its archive must not import it.
    assert "all_minilm_l6_v2" not in sys.modules


@pytest.mark.slow
def test_configured_local_model_path_and_batch_size_are_used(
        minilm: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    settings = Settings(embedding_model=minilm.path, embedding_batch_size=8)
    unused = tmp_path / "models"
    embedder = load_embedder(settings, unused)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.path == minilm.path and embedder.batch_size == 8
    assert embedder.model_id == minilm.model_id  # same files, same id: the cache carries over
    assert not unused.exists()  # the bundled default was not extracted
    np.testing.assert_allclose(embedder.encode(["a cat video"]), minilm.encode(["a cat video"]),
                               atol=1e-5)


def test_missing_model_path_errors_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EmbeddingModelError, match=str(missing)):
        load_embedder(Settings(embedding_model=missing), tmp_path / "models")


def test_directory_without_a_model_errors_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README").write_text("not a model")
    with pytest.raises(EmbeddingModelError, match="not a sentence-transformers model"):
        SentenceTransformerEmbedder(tmp_path / "empty")


def test_missing_bundled_package_says_how_to_configure_a_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("features.embeddings.bundled_model_archive", lambda: None)
    with pytest.raises(EmbeddingModelError, match="REELRANK_EMBEDDING_MODEL"):
        default_model_path(tmp_path)


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashingEmbedder(dim=16)
    texts = ["A cat video", "a cat video!", "stock market news", "", "..."]
    vectors = embedder.encode(texts)
    assert isinstance(embedder, Embedder)
    assert vectors.shape == (5, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[1])  # same tokens, same vector
    np.testing.assert_array_equal(vectors, HashingEmbedder(dim=16).encode(texts))
    assert not np.allclose(vectors[0], vectors[2])
    assert embedder.model_id == "hashing-16" and embedder.encode([]).shape == (0, 16)
