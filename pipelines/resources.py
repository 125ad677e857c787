"""Dagster resources: the only way assets reach external systems."""

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import PrivateAttr

from features.embeddings import Embedder, HashingEmbedder, load_embedder
from reelrank.home import DataHome
from reelrank.settings import Settings

__all__ = ["EmbedderResource", "HomeResource", "ModelStore"]


class HomeResource(dg.ConfigurableResource):
    """The data home (warehouse, control store, artifacts) the pipeline reads and writes."""

    path: str

    def open(self) -> DataHome:
        return DataHome.open(self.path)

    def settings(self) -> Settings:
        """The home's settings, without opening (creating, migrating) anything."""
        return Settings(home=Path(self.path))

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Rows of one read query on the warehouse (for checks and metadata)."""
        con = self.open().warehouse()
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


class EmbedderResource(dg.ConfigurableResource):
    """The text-embedding model, loaded once per process and shared by every asset.

    `backend="sentence-transformers"` (the default) loads the configured local model, or the
    bundled all-MiniLM-L6-v2. `backend="hashing"` is a deterministic token-hashing stand-in
    that is not a language model: for pipeline tests, where loading the real model in every
    test would cost minutes and the model itself is tested on its own.
    """

    backend: Literal["sentence-transformers", "hashing"] = "sentence-transformers"
    hashing_dim: int = 64
    _model: Embedder | None = PrivateAttr(default=None)

    def get(self, home: DataHome) -> Embedder:
        if self._model is None:
            if self.backend == "hashing":
                self._model = HashingEmbedder(self.hashing_dim)
            else:
                self._model = load_embedder(home.settings, home.dir("models"))
        return self._model


class ModelStore(dg.ConfigurableResource):
    """The trained artifacts a serving snapshot is built from, where training left them:
    the promoted ranker and the retrieval indexes. Read from the home, not from a run's
    outputs, so a scoring run finds the newest ones whichever run (or instance) made them."""

    path: str

    def serving_ranker(self) -> Path | None:
        from ranking.training import current_ranker_dir

        return current_ranker_dir(Path(self.path) / "models")

    def indexes(self) -> Path:
        return Path(self.path) / "indexes"
