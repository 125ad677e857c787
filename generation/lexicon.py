"""The bundled classifier: a transparent lexicon of categories, each a list of word patterns
and the rating it implies, matched on whole words of the prompt (case-folded).

An item's rating is the most restrictive among the categories found in its text, `safe`
when none is. It errs on the side of caution on purpose (a "sensitive" video is still shown
to adults; what it costs is reach among supervised accounts), says exactly which category
decided, and is meant to be read and extended: a deployment adds its own categories or
terms by subclassing with another `CATEGORIES`. A trained model can sit on top of it
(`generation.toxicity`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from generation.rating import Rating, worst

__all__ = ["CATEGORIES", "Category", "LexiconClassifier"]


@dataclass(frozen=True)
class Category:
    """A named kind of content, the rating it implies, and its patterns (regular
    expressions for whole words, case-folded text)."""

    name: str
    label: str
    patterns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    # Never servable, to anyone.
    Category("sexual_explicit", "unsafe", (
        r"porn\w*", r"nudes?", r"naked", r"nudity", r"nsfw", r"xxx", r"sex", r"sexual\w*",
        r"erotic\w*", r"hentai", r"fetish\w*", r"strip(?:per|pers|tease)", r"onlyfans")),
    Category("graphic_violence", "unsafe", (
        r"gore", r"gory", r"behead\w*", r"decapitat\w*", r"dismember\w*", r"mutilat\w*",
        r"disembowel\w*", r"massacre\w*", r"tortur\w*", r"bloodbath", r"snuff")),
    Category("self_harm", "unsafe", (
        r"suicid\w*", r"self[- ]?harm\w*", r"kill(?:ing)? (?:my|your|him|her|them)sel(?:f|ves)",
        r"cutting (?:my|your|him|her)self", r"overdos\w*")),
    Category("hate", "unsafe", (
        r"nazis?", r"neo-?nazi\w*", r"heil hitler", r"white power", r"ethnic cleansing",
        r"genocid\w*", r"kkk")),
    Category("terror", "unsafe", (
        r"(?:pipe|nail|car|suicide) bombs?", r"(?:make|build|making|building) a bomb",
        r"bomb[- ]making", r"(?:school|mass) shootings?", r"terroris\w*")),
    # Adults only.
    Category("suggestive", "sensitive", (
        r"sexy", r"lingerie", r"seductiv\w*", r"twerk\w*", r"making out", r"strip club")),
    Category("violence", "sensitive", (
        r"fight\w*", r"punch\w*", r"blood\w*", r"guns?", r"gunfire", r"gunshots?",
        r"rifles?", r"pistols?", r"shootouts?", r"stab\w*", r"knife", r"knives", r"weapons?", r"kill(?:s|ed|ing)?", r"murder\w*",
        r"war", r"warzone", r"explosions?", r"brawl\w*")),
    Category("horror", "sensitive", (
        r"horror", r"slasher", r"jump ?scares?", r"demonic", r"possessed", r"zombies?",
        r"creepy", r"corpses?")),
    Category("alcohol", "sensitive", (
        r"beers?", r"wine", r"vodka", r"whiske?y", r"tequila", r"rum", r"cocktails?",
        r"drunk\w*", r"booze", r"hangover", r"keg")),
    Category("smoking", "sensitive", (
        r"cigarettes?", r"cigars?", r"smoking", r"vap(?:e|es|ing)", r"weed", r"marijuana",
        r"cannabis", r"bong")),
    Category("drugs", "sensitive", (
        r"drugs", r"cocaine", r"heroin", r"meth", r"fentanyl", r"ecstasy", r"lsd",
        r"getting high")),
    Category("gambling", "sensitive", (
        r"casinos?", r"gambl\w*", r"poker", r"betting", r"slot machines?", r"roulette",
        r"blackjack")),
    Category("profanity", "sensitive", (
        r"fuck\w*", r"shit\w*", r"bitch\w*", r"asshole\w*", r"bastards?", r"damn\w*",
        r"crap\w*", r"dick", r"piss\w*", r"wtf")),
)


def _normalized(text: str) -> str:
    # NFKC folds look-alike forms (full-width letters, ligatures) into plain ones.
    return unicodedata.normalize("NFKC", text).casefold()


class LexiconClassifier:
    """Rates text by `CATEGORIES` (override in a subclass to change them)."""

    name = "lexicon-1"
    CATEGORIES: tuple[Category, ...] = CATEGORIES

    def __init__(self) -> None:
        self._compiled = [
            (c, re.compile(r"(?<!\w)(?:" + "|".join(c.patterns) + r")(?!\w)"))
            for c in self.CATEGORIES]

    def categories(self, text: str) -> list[Category]:
        """The categories found in `text`, in `CATEGORIES` order."""
        folded = _normalized(text)
        return [c for c, pattern in self._compiled if pattern.search(folded)]

    def rate(self, text: str) -> Rating:
        found = self.categories(text)
        return Rating(worst(c.label for c in found), tuple(c.name for c in found), self.name)
