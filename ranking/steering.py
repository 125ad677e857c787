"""Reading a person's steering text ("more skateboarding, less cooking, no pranks") into
weighted directions: a small deterministic parser of their own words, not a language model.

The text is cut into parts at commas, semicolons, full stops, new lines, "and", "but", "plus"
and "&". Each part starts with what it asks for:

- more: "more", "show me more", "I want", "I like", "give me", "lots of" ...
- less: "less", "fewer", "not so much", "show me less", "reduce" ...
- no: "no", "none of", "without", "never", "don't show", "stop showing", "hide", "not" ...

"a lot more", "much less" ... weigh 2, "a bit more", "slightly less" ... weigh 0.5, the rest 1.
What follows is the phrase, without filler ("videos about", "stuff", "please"). A part with
no word of its own continues the one before ("more skateboarding and cats": both more); a
part that starts nowhere is not understood, and said so. The same phrase twice: the later
wins.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from reelrank.errors import ReelrankError

__all__ = ["KINDS", "Direction", "Parsed", "SteeringTextError", "parse_steering"]

KINDS = ("more", "less", "no")
EXAMPLE = "more skateboarding, less cooking, no pranks"

_STRONG, _WEAK = 2.0, 0.5
_MARKERS: dict[str, tuple[str, float]] = {}
for _kind, _words in (
    ("no", ("no more", "no", "none of", "nothing about", "nothing with", "without",
            "never show me", "never", "don't show me", "dont show me", "don't show", "dont show",
            "do not show me", "do not show", "stop showing me", "stop showing", "hide",
            "i don't want", "i dont want", "i do not want", "not", "zero")),
    ("less", ("less", "fewer", "not so much", "not too much", "not as much", "show me less",
              "show me fewer", "i want less", "i want fewer", "reduce", "cut down on",
              "cut back on")),
    ("more", ("more", "show me more", "i want more", "i want", "i like", "i love", "give me",
              "lots of", "plenty of", "extra", "show me", "add")),
):
    for _w in _words:
        _MARKERS[_w] = (_kind, 1.0)
for _kind in ("more", "less"):
    for _w in ("a lot", "much", "way", "lots", "far", "many"):
        _MARKERS[f"{_w} {_kind}"] = (_kind, _STRONG)
    for _w in ("a bit", "a little", "slightly", "somewhat", "a tad"):
        _MARKERS[f"{_w} {_kind}"] = (_kind, _WEAK)
_MARKERS["many more"] = ("more", _STRONG)
_MARKERS["a few more"] = ("more", _WEAK)
_MARKERS["a bit fewer"] = ("less", _WEAK)
_BY_LENGTH = sorted(_MARKERS, key=len, reverse=True)

_SPLIT = re.compile(r"[,;.!?\n]+|&|\b(?:and|but|plus|also)\b", re.IGNORECASE)
_LEAD = re.compile(r"^(?:(?:please|pls|ok|okay|also|then|just|maybe|i'd like|i would like)\s+)+")
# "videos about cats" -> "cats", but "video games" stays.
_FILLER_HEAD = re.compile(r"^(?:(?:of|the|about|on|with|some|any)\s+|(?:videos?|clips?|stuff|"
                          r"content|posts?|things?|ones?)\s+(?=(?:of|about|on|with)\s))+")
_FILLER_TAIL = re.compile(r"(?:\s+(?:please|pls|videos?|clips?|stuff|content|posts?|"
                          r"for me|in my feed|thanks|thank you))+$")
_WORD = re.compile(r"\w", re.UNICODE)


class SteeringTextError(ReelrankError):
    """The text cannot be steering: empty, too long, or nothing in it understood."""


@dataclass(frozen=True)
class Direction:
    """`kind`: more, less or no; `phrase`: what, in the person's words; `topic`: the
    catalog topic the phrase names, if any (resolved by the API, which knows the topics)."""

    kind: str
    phrase: str
    weight: float = 1.0
    topic: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Parsed:
    directions: tuple[Direction, ...]
    ignored: tuple[str, ...]  # parts of the text nothing was understood in


def _clean(phrase: str) -> str:
    phrase = re.sub(r"\s+", " ", phrase.strip(" '\"()[]{}-:")).strip()
    for _ in range(2):
        phrase = _FILLER_TAIL.sub("", _FILLER_HEAD.sub("", phrase)).strip()
    return phrase


def _direction(part: str) -> tuple[str | None, float, str]:
    """(kind or None, weight, phrase) of one part."""
    text = _LEAD.sub("", part)
    for marker in _BY_LENGTH:
        if text == marker or text.startswith(marker + " "):
            kind, weight = _MARKERS[marker]
            return kind, weight, _clean(text[len(marker):])
    return None, 1.0, _clean(text)


def parse_steering(text: str, *, max_chars: int, max_directions: int) -> Parsed:
    """The directions of `text`; `SteeringTextError` saying what was wrong (and what was
    understood) when it is empty, longer than `max_chars`, holds more than
    `max_directions` directions, or none at all."""
    if not text or not text.strip():
        raise SteeringTextError(f"the text is empty; say what you want, e.g. '{EXAMPLE}'")
    if len(text) > max_chars:
        raise SteeringTextError(f"the text is {len(text)} characters, at most {max_chars}")
    found: dict[str, Direction] = {}
    ignored: list[str] = []
    last: tuple[str, float] | None = None
    for raw in _SPLIT.split(text.lower()):
        part = raw.strip()
        if not _WORD.search(part):
            continue
        kind, weight, phrase = _direction(part)
        if kind is None and last is not None:
            kind, weight = last
        if kind is None or not _WORD.search(phrase):
            ignored.append(part)
            continue
        last = (kind, weight)
        found.pop(phrase, None)
        found[phrase] = Direction(kind, phrase, weight)
    if not found:
        shown = ", ".join(f"'{p}'" for p in ignored) or "nothing"
        raise SteeringTextError(
            f"nothing recognisable: understood no direction in {shown}; start each part "
            f"with more, less or no, e.g. '{EXAMPLE}'")
    if len(found) > max_directions:
        raise SteeringTextError(f"{len(found)} directions ({', '.join(found)}), at most "
                                f"{max_directions}")
    return Parsed(tuple(found.values()), tuple(ignored))
