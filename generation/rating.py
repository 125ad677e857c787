"""Rating a new generation: the classifier interface, and loading one from configuration.

The worker rates every item it publishes, on its prompt text, before the item is served to
anyone: `safe`, `sensitive` (adults only) or `unsafe` (nobody), with the categories that
decided it; the rating is stored with the item (`reelrank.control.items`), lands in the
warehouse with it, and a moderator may replace it later (`reelrank.control.labels`). An
item nobody could rate is `unrated`, which a supervised account is never shown.

`settings.generation_classifier` picks the classifier: `lexicon` (the bundled, transparent
keyword lexicon, `generation.lexicon`), `none` (every item unrated until a moderator rates
it), or `module:Class`, a class constructed with no arguments, such as
`generation.toxicity:ToxicityModel` (a trained offensive-language model on top of the lexicon).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from reelrank.errors import ReelrankError

__all__ = ["ClassifierConfigError", "ContentClassifier", "Rating", "Unrated", "load_classifier",
           "worst"]

# From least to most restrictive: "unrated" is not known to be safe, so it ranks above safe
# (no supervised account sees it) and below sensitive (an adult may).
SEVERITY = ("safe", "unrated", "sensitive", "unsafe")


# Named by path like any other, so this module imports none of them.
_BUNDLED = {"lexicon": "generation.lexicon:LexiconClassifier"}


class ClassifierConfigError(ReelrankError):
    """`generation_classifier` names no usable classifier."""


@dataclass(frozen=True)
class Rating:
    """A label of `SEVERITY`, the categories that decided it, and who rated (None: nobody)."""

    label: str
    categories: tuple[str, ...] = ()
    rated_by: str | None = None

    def __post_init__(self) -> None:
        if self.label not in SEVERITY:
            raise ValueError(f"a rating is one of {SEVERITY}, got {self.label!r}")


@runtime_checkable
class ContentClassifier(Protocol):
    """Rates a generation's text. `name` says which classifier (and version) rated it."""

    name: str

    def rate(self, text: str) -> Rating: ...


class Unrated:
    """Rates nothing: every item waits, unrated, for a moderator (`none`)."""

    name = "none"

    def rate(self, text: str) -> Rating:
        return Rating("unrated")


def worst(labels: Iterable[str]) -> str:
    """The most restrictive of `labels` (safe when there are none)."""
    return max(labels, key=SEVERITY.index, default="safe")


def load_classifier(spec: str) -> ContentClassifier:
    """`lexicon`, `none`, or an instance of the class a `module:Class` path names."""
    spec = _BUNDLED.get(spec, spec)
    if spec == "none":
        return Unrated()
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ClassifierConfigError(f"classifier must be 'lexicon', 'none' or 'module:Class', "
                                    f"got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ClassifierConfigError(f"cannot import classifier module {module_name!r} "
                                    f"(from {spec!r}): {exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ClassifierConfigError(f"{module_name!r} has no class {class_name!r} "
                                    f"(from {spec!r})")
    classifier = cls()
    if not isinstance(classifier, ContentClassifier):
        raise ClassifierConfigError(f"{spec} is not a content classifier: it needs a `name` "
                                    "and a `rate(text)` method")
    return classifier
