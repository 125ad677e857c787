"""A user's own controls as ranking reads them: steering directions with their phrases'
vectors, muted words and topics, and the topics and creators they asked to see fewer of.
Read live from the control store with the rest of the policy state (`ranking.policy.read_live`)
and carried on the query, so the sources, filters and scorers that apply them (batch and
online alike) read one object.

How alike an item is to a direction (`likeness`): 1 when the item's topic is the topic the
phrase names, else the cosine similarity of the item's content vector and the phrase's
(clipped at 0), when both were made by the same embedding model; 0 otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import sparse

from ranking.steering import Direction

__all__ = ["NO_CONTROLS", "UserControls", "likeness", "targets", "topic_centroids",
           "topic_codes", "vectors_usable"]


def _vectors() -> np.ndarray:
    return np.zeros((0, 0), dtype=np.float32)


@dataclass(frozen=True)
class UserControls:
    directions: tuple[Direction, ...] = ()
    vectors: np.ndarray = field(default_factory=_vectors)  # one unit row per direction
    model_id: str | None = None                            # what embedded the phrases
    muted_words: tuple[str, ...] = ()
    muted_topics: tuple[str, ...] = ()
    fewer_topics: tuple[str, ...] = ()
    fewer_creators: tuple[object, ...] = ()
    # Set from the settings when a query is made (`Engine.query`): a "no" removes what is
    # at least this alike.
    no_similarity: float = 1.0

    @classmethod
    def from_rows(cls, entry: dict[str, object]) -> UserControls:
        """From one user's `reelrank.control.controls.controls_of` entry."""
        steering = entry.get("steering")
        directions: tuple[Direction, ...] = ()
        vectors, model = _vectors(), None
        if steering:
            directions = tuple(Direction(d["kind"], d["phrase"], float(d.get("weight", 1.0)),
                                         d.get("topic")) for d in steering["directions"])
            dim = int(steering["dim"])
            vectors = np.frombuffer(steering["vectors"], dtype=np.float32).reshape(-1, dim)
            model = str(steering["model_id"])
            if len(vectors) != len(directions):  # written by something else: not trusted
                vectors, model = _vectors(), None
        fewer = entry.get("fewer") or []
        return cls(directions, vectors, model, tuple(entry.get("words") or ()),
                   tuple(entry.get("topics") or ()),
                   tuple(sorted({t for t, _c in fewer if t is not None})),
                   tuple(dict.fromkeys(c for _t, c in fewer if c is not None)))

    def of_kind(self, kind: str) -> list[int]:
        return [n for n, d in enumerate(self.directions) if d.kind == kind]

    @property
    def reshapes(self) -> bool:
        """Whether the controls change scores or retrieval (a page ranked without them, the
        batch's, cannot stand in); filters alone are re-applied to any page."""
        return bool(self.of_kind("more") or self.of_kind("less") or self.fewer_topics
                    or self.fewer_creators)

    @property
    def empty(self) -> bool:
        return not (self.directions or self.muted_words or self.muted_topics
                    or self.fewer_topics or self.fewer_creators)

    @cached_property
    def word_pattern(self) -> re.Pattern[str] | None:
        """Any muted word or phrase, whole words only, any case."""
        if not self.muted_words:
            return None
        words = sorted(self.muted_words, key=len, reverse=True)
        return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)",
                          re.IGNORECASE)


NO_CONTROLS = UserControls()


def topic_codes(view, names) -> np.ndarray:
    """The codes of the named topics the view knows."""
    known = view.topic_code
    return np.array(sorted(known[n] for n in names if n in known), dtype=np.int64)


def vectors_usable(view, controls: UserControls) -> bool:
    """The phrases' vectors are comparable with the items': the same model made both."""
    if not len(controls.vectors) or controls.vectors.shape[1] != view.item_vectors.shape[1]:
        return False
    model = getattr(view, "embedding_model", None)
    return model is None or model == controls.model_id


def likeness(view, controls: UserControls, which: list[int], rows: np.ndarray
             ) -> np.ndarray:
    """(len(which), len(rows)): how alike each item is to each of the directions `which`."""
    out = np.zeros((len(which), len(rows)))
    if not which or not len(rows):
        return out
    if vectors_usable(view, controls):
        vectors = view.take("item_vectors", rows)
        norms = np.nan_to_num(view.take("item_norms", rows), nan=1.0)
        phrases = controls.vectors[which]
        out = np.clip((phrases @ vectors.T) / norms[None, :], 0.0, 1.0)
    topics = view.take("item_topic", rows)
    for k, n in enumerate(which):
        topic = controls.directions[n].topic
        code = view.topic_code.get(topic, -2) if topic is not None else -2
        out[k] = np.where(topics == code, 1.0, out[k])
    return out


def topic_centroids(view) -> np.ndarray:
    """(topics, dim): the unit mean content vector of each topic's items in the snapshot
    (zeros for a topic without vectors), by topic code; computed once per snapshot."""
    found = view.memo.get(("topic_centroids",))
    if found is None:
        topic, has = view.item_topic, view.has_vector
        rows = np.flatnonzero((topic >= 0) & has)
        n_topics = len(view.topic_code)
        # A sparse (topics x items) sum: the catalog's vectors are never copied.
        members = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32),
                                     (topic[rows], rows)), shape=(n_topics, len(topic)))
        sums = np.asarray(members @ view.item_vectors, dtype=np.float32)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        found = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
        view.memo[("topic_centroids",)] = found
    return found


def targets(view, controls: UserControls, which: list[int]) -> np.ndarray:
    """(len(which), dim) unit vectors: where each direction points in content space, its
    topic's centroid and its phrase's vector together (zeros when it has neither)."""
    dim = view.item_vectors.shape[1]
    out = np.zeros((len(which), dim), dtype=np.float32)
    usable = vectors_usable(view, controls)
    centroids = topic_centroids(view) if any(controls.directions[n].topic for n in which) \
        else None
    for k, n in enumerate(which):
        topic = controls.directions[n].topic
        if centroids is not None and topic in view.topic_code:
            out[k] += centroids[view.topic_code[topic]]
        if usable:
            out[k] += controls.vectors[n]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
