"""Steering in the user's own words (`/v1/me/steering`) and "see fewer like this", as the API
does them: the text parsed (`ranking.steering`), each phrase embedded by the same model that
embedded the served catalog's captions, in this process (loaded on first use; vectors cached
by model and text hash), the topic each phrase names found, and the whole stored in the
control store, where every later ranking reads it (`ranking.policy.read_live`).

A phrase names a catalog topic when a word of it is the topic's name (singular or plural,
or a prefix of five letters or more: "skate" for skateboarding), or when its embedding is at
least `steering_topic_match` close to the topic name's.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

import numpy as np

from api.errors import InvalidInputError, NotFoundError, NotReadyError
from features.embeddings import Embedder, EmbeddingModelError, HashingEmbedder, load_embedder
from ranking.controls import topic_centroids
from ranking.policy import read_live
from ranking.steering import Direction, SteeringTextError, parse_steering
from reelrank.control.connection import Connection
from reelrank.control.controls import add_see_fewer, read_steering, set_steering
from reelrank.home import DataHome
from reelrank.text_keys import content_hash

__all__ = ["PhraseEmbedder", "put_steering", "see_fewer", "steering_out", "with_topics"]

_HASHING = re.compile(r"^hashing-(\d+)$")


class PhraseEmbedder:
    """The catalog's embedding model for short texts. A snapshot records which model
    embedded its captions (`embedding_model` in its manifest); that model is the one used:
    the hashing stand-in a test world was embedded with, else the configured
    sentence-transformers model, refused (503) when it is another model than the
    catalog's."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._models: dict[str, Embedder] = {}
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def model(self, snap) -> Embedder:
        wanted = snap.embedding_model
        key = wanted or "configured"
        with self._lock:
            found = self._models.get(key)
            if found is None:
                match = _HASHING.match(wanted or "")
                try:
                    found = (HashingEmbedder(int(match[1])) if match else
                             load_embedder(self.home.settings, self.home.dir("models")))
                except EmbeddingModelError as exc:
                    raise NotReadyError(f"steering needs the embedding model: {exc}") from exc
                if wanted is not None and found.model_id != wanted:
                    raise NotReadyError(
                        f"the served catalog was embedded with {wanted}, this server's model "
                        f"is {found.model_id}: steering phrases must be embedded by the same")
                if found.dim != snap.item_vectors.shape[1]:
                    raise NotReadyError(f"the embedding model makes {found.dim}-d vectors, the "
                                        f"catalog's are {snap.item_vectors.shape[1]}-d")
                self._models[key] = found
        return found

    def encode(self, snap, texts: list[str]) -> tuple[str, np.ndarray]:
        """(model id, unit float32 rows) for `texts`, by the catalog's model."""
        model = self.model(snap)
        keep = self.home.settings.steering_cache_texts
        keys = [(model.model_id, content_hash(t)) for t in texts]
        with self._lock:
            missing = [t for t, k in zip(texts, keys, strict=True) if k not in self._cache]
        fresh = dict(zip(missing, model.encode(missing), strict=True)) if missing else {}
        rows = []
        with self._lock:
            for text, key in zip(texts, keys, strict=True):
                vector = fresh[text] if text in fresh else self._cache[key]
                rows.append(vector)
                if keep:
                    self._cache[key] = vector
                    self._cache.move_to_end(key)
            while len(self._cache) > keep:
                self._cache.popitem(last=False)
        return model.model_id, np.asarray(rows, dtype=np.float32).reshape(len(texts), model.dim)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _named_topic(phrase: str, names: list[str]) -> str | None:
    words = [_singular(w) for w in re.findall(r"\w+", phrase)]
    for name in names:
        topic = _singular(name.lower())
        if any(w == topic or (len(w) >= 5 and topic.startswith(w)) for w in words):
            return name
    return None


def with_topics(snap, phrases: PhraseEmbedder, directions: tuple[Direction, ...],
                vectors: np.ndarray, match: float) -> list[Direction]:
    """`directions` with the catalog topic each phrase names (`vectors`: the phrases')."""
    names = sorted(snap.topic_code, key=snap.topic_code.get)
    if not names:
        return list(directions)
    near = None
    # The hashing stand-in knows no meaning, and two one-word texts collide in its buckets
    # often: only the real model's closeness says a phrase means a topic.
    if not isinstance(phrases.model(snap), HashingEmbedder):
        _model, named = phrases.encode(snap, [n.replace("_", " ") for n in names])
        near = vectors @ named.T
    out = []
    for n, d in enumerate(directions):
        topic = _named_topic(d.phrase, names)
        if topic is None and near is not None and float(near[n].max()) >= match:
            topic = names[int(np.argmax(near[n]))]
        out.append(Direction(d.kind, d.phrase, d.weight, topic))
    return out


def put_steering(control: Connection, phrases: PhraseEmbedder, snap, user: object,
                 text: str, now: datetime) -> dict[str, object]:
    """Parse, embed and store `text` as the user's steering; 422 naming `text` when it is
    not steering (saying what was understood)."""
    settings = phrases.home.settings
    try:
        parsed = parse_steering(text, max_chars=settings.steering_max_chars,
                                max_directions=settings.steering_max_directions)
    except SteeringTextError as exc:
        raise InvalidInputError(f"text: {exc}", ("text",)) from exc
    model_id, vectors = phrases.encode(snap, [d.phrase for d in parsed.directions])
    directions = with_topics(snap, phrases, parsed.directions, vectors,
                              settings.steering_topic_match)
    set_steering(control, user, text, [d.as_dict() for d in directions], model_id,
                 vectors.shape[1], vectors.tobytes(), now=now)
    return steering_out(control, user, now)


def steering_out(control: Connection, user: object, now: datetime) -> dict[str, object]:
    """The user's steering as stored and parsed, whether it applies to their feed, and
    which parts of the text were not understood (404 when none is set)."""
    row = read_steering(control, user)
    if row is None:
        raise NotFoundError(f"{user} has no steering set")
    text = str(row["text"])
    ignored = parse_steering(text, max_chars=len(text), max_directions=10_000).ignored
    personalized = read_live(control, [user], now).policy(user).personalized
    return {"text": text, "directions": row["directions"], "ignored": list(ignored),
            "applied": personalized, "model_id": row["model_id"],
            "updated_at": row["updated_at"]}


def see_fewer(control: Connection, view, user: object, item_id: object, now: datetime,
              hours: float) -> dict[str, object]:
    """Demote the item's nearest topic and its creator for `hours`: its own topic,
    or for a video made since the snapshot (no topic yet) the topic whose centroid its
    content vector is closest to."""
    row = view.row_of(item_id)
    if row < 0:
        raise NotFoundError(f"item {item_id!r} is not in the served catalog")
    names = {code: name for name, code in view.topic_code.items()}
    code = int(view.take("item_topic", np.array([row]))[0])
    if code < 0 and names and bool(view.take("has_vector", np.array([row]))[0]):
        closeness = topic_centroids(view) @ view.take("item_vectors", np.array([row]))[0]
        code = int(np.argmax(closeness)) if float(closeness.max()) > 0 else -1
    return add_see_fewer(control, user, item_id, names.get(code), view.creator_id_of(row),
                         now=now, until=now + timedelta(hours=hours))
