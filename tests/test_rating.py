"""Rating new generations: the bundled lexicon (each category, whole words only, the most
restrictive wins), the trained toxicity model on top of it, and loading a classifier from
configuration."""

from __future__ import annotations

import pytest

from generation.lexicon import CATEGORIES, Category, LexiconClassifier
from generation.rating import (
    ClassifierConfigError,
    Rating,
    Unrated,
    load_classifier,
    worst,
)
from generation.toxicity import ToxicityModel


@pytest.mark.parametrize(("text", "label", "categories"), [
    ("a cat learns to skateboard", "safe", ()),
    ("kids building a sandcastle at the beach", "safe", ()),
    # Whole words only: none of these holds a listed word.
    ("a skillful bassist", "safe", ()),
    ("a photo shoot with a killer whale", "safe", ()),
    ("friends drinking beer at a party", "sensitive", ("alcohol",)),
    ("a pillow fight", "sensitive", ("violence",)),
    ("a haunted house with zombies", "sensitive", ("horror",)),
    ("high stakes poker night", "sensitive", ("gambling",)),
    ("what the fuck", "sensitive", ("profanity",)),
    ("a gory massacre", "unsafe", ("graphic_violence",)),
    ("how to build a bomb", "unsafe", ("terror",)),
    # Case and look-alike forms are folded; the most restrictive category decides.
    ("NSFW beach party with BEER", "unsafe", ("sexual_explicit", "alcohol")),
    ("ｎｕｄｅ", "unsafe", ("sexual_explicit",)),
])
def test_the_lexicon_rates_by_the_most_restrictive_category_found(
        text: str, label: str, categories: tuple[str, ...]) -> None:
    assert LexiconClassifier().rate(text) == Rating(label, categories, "lexicon-1")


def test_a_lexicon_is_extended_by_subclassing() -> None:
    house = (*CATEGORIES, Category("energy_drinks", "sensitive", (r"energy drinks?",)))

    class Stricter(LexiconClassifier):
        name = "lexicon-1+house"
        CATEGORIES = house

    assert Stricter().rate("chugging an energy drink").label == "sensitive"
    assert LexiconClassifier().rate("chugging an energy drink").label == "safe"


def test_worst_orders_unrated_between_safe_and_sensitive() -> None:
    assert worst([]) == "safe"
    assert worst(["safe", "unrated"]) == "unrated"
    assert worst(["unrated", "sensitive"]) == "sensitive"
    assert worst(["sensitive", "unsafe", "safe"]) == "unsafe"
    with pytest.raises(ValueError, match="one of"):
        Rating("fine")


def test_the_toxicity_model_adds_offensive_language_to_the_lexicon() -> None:
    model = ToxicityModel()
    assert model.probability("you are a worthless idiot and everyone hates you") > 0.9
    assert model.rate("you are a worthless idiot and everyone hates you") == Rating(
        "sensitive", ("offensive_language",), "toxicity-1+lexicon-1")
    assert model.rate("a cat learns to skateboard").label == "safe"
    # Not offensive language, but the lexicon's unsafe categories still count.
    assert model.rate("a gory massacre").label == "unsafe"


def test_classifiers_load_by_name_or_dotted_path() -> None:
    assert isinstance(load_classifier("lexicon"), LexiconClassifier)
    assert isinstance(load_classifier("none"), Unrated)
    assert load_classifier("none").rate("anything") == Rating("unrated")
    assert isinstance(load_classifier("generation.toxicity:ToxicityModel"), ToxicityModel)
    for spec, message in [("nope.nothing:X", "cannot import"),
                          ("generation.lexicon:Missing", "no class"),
                          ("reelrank.settings:Settings", "not a content classifier"),
                          ("no_colon", "module:Class")]:
        with pytest.raises(ClassifierConfigError, match=message):
            load_classifier(spec)
