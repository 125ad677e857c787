"""The steering parser (`ranking.steering.parse_steering`): the person's own words into
weighted more / less / no directions, deterministically, and a clear refusal naming what
was understood when nothing was."""

from __future__ import annotations

import re

import pytest

from ranking.steering import Direction, SteeringTextError, parse_steering


def _parse(text: str, **limits: int) -> list[tuple[str, str, float]]:
    parsed = parse_steering(text, max_chars=limits.get("max_chars", 300),
                            max_directions=limits.get("max_directions", 8))
    return [(d.kind, d.phrase, d.weight) for d in parsed.directions]


@pytest.mark.parametrize(("text", "expected"), [
    ("more skateboarding, less cooking, no pranks",
     [("more", "skateboarding", 1.0), ("less", "cooking", 1.0), ("no", "pranks", 1.0)]),
    # "and" continues the direction before it; filler words go.
    ("A lot more cat videos and dogs; not so much cooking please",
     [("more", "cat", 2.0), ("more", "dogs", 2.0), ("less", "cooking", 1.0)]),
    ("no more pranks", [("no", "pranks", 1.0)]),
    ("show me fewer cars but more travel stuff", [("less", "cars", 1.0),
                                                  ("more", "travel", 1.0)]),
    ("slightly less anime. without football", [("less", "anime", 0.5),
                                               ("no", "football", 1.0)]),
    ("I don't want horror\nI love videos about gardening",
     [("no", "horror", 1.0), ("more", "gardening", 1.0)]),
    ("more video games and videos about cats, no cat videos",
     [("more", "video games", 1.0), ("more", "cats", 1.0), ("no", "cat", 1.0)]),
    # The same phrase twice: the later wins.
    ("more cooking, no cooking", [("no", "cooking", 1.0)]),
])
def test_directions(text: str, expected: list[tuple[str, str, float]]) -> None:
    assert _parse(text) == expected


def test_what_was_not_understood_is_kept_aside() -> None:
    parsed = parse_steering("I am bored, more music", max_chars=300, max_directions=8)
    assert parsed.directions == (Direction("more", "music"),)
    assert parsed.ignored == ("i am bored",)


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"),
    ("   \n ", "empty"),
    ("x" * 301, "301 characters, at most 300"),
    ("I am bored, whatever", "understood no direction in 'i am bored', 'whatever'"),
    ("more", "understood no direction in 'more'"),
    ("more a, more b, more c", "3 directions (a, b, c), at most 2"),
])
def test_refusals_say_what_was_wrong(text: str, says: str) -> None:
    with pytest.raises(SteeringTextError, match=re.escape(says)):
        parse_steering(text, max_chars=300, max_directions=2)
