"""Steering phrases embedded by the real sentence-transformers model (the bundled
all-MiniLM-L6-v2), as the server embeds them for a catalog that model embedded: a phrase in
other words than a topic's name still finds the topic it means, one that means none finds
none, and the server refuses to embed with a model other than the catalog's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from api.errors import NotReadyError
from api.steering import PhraseEmbedder, with_topics
from ranking.steering import parse_steering
from reelrank.home import DataHome
from reelrank.simulate.vocab import TOPICS


@pytest.fixture(scope="module")
def phrases(tmp_path_factory: pytest.TempPathFactory) -> PhraseEmbedder:
    return PhraseEmbedder(DataHome.open(tmp_path_factory.mktemp("model") / "home"))


def _catalog(model_id: str | None, dim: int = 384) -> SimpleNamespace:
    return SimpleNamespace(embedding_model=model_id, item_vectors=np.zeros((1, dim)),
                           topic_code={t.name: n for n, t in enumerate(TOPICS)})


@pytest.mark.slow
def test_phrases_find_the_topic_they_mean(phrases: PhraseEmbedder) -> None:
    model = phrases.model(_catalog(None))
    snap = _catalog(model.model_id)
    text = "more recipes, a lot more video games, less soccer, no pranks, no birds"
    parsed = parse_steering(text, max_chars=300, max_directions=8)
    model_id, vectors = phrases.encode(snap, [d.phrase for d in parsed.directions])
    assert model_id == model.model_id and vectors.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    match = phrases.home.settings.steering_topic_match
    found = [(d.kind, d.phrase, d.weight, d.topic)
             for d in with_topics(snap, phrases, parsed.directions, vectors, match)]
    # "pranks" and "birds" mean no topic closely enough: they steer by the phrase alone.
    assert found == [("more", "recipes", 1.0, "cooking"), ("more", "video games", 2.0, "gaming"),
                     ("less", "soccer", 1.0, "football"), ("no", "pranks", 1.0, None),
                     ("no", "birds", 1.0, None)]
    again = phrases.encode(snap, ["recipes"])[1]  # cached by text hash: the same vector
    np.testing.assert_array_equal(again[0], vectors[0])


@pytest.mark.slow
def test_another_model_than_the_catalogs_is_refused(tmp_path: Path) -> None:
    other = PhraseEmbedder(DataHome.open(tmp_path / "home"))
    with pytest.raises(NotReadyError, match="embedded with some-other-model"):
        other.model(_catalog("some-other-model"))
