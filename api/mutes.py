"""Mutes (`/v1/me/mutes`): words and topics a user never wants served. A word is matched
whole, in any case, against captions and generation prompts (`ranking.filters.muted_word`);
a topic must be one of the served catalog's. Stored lower-cased; muting twice is one mute."""

from __future__ import annotations

import re
from datetime import datetime

from api.errors import ConflictError, InvalidInputError
from reelrank.control.connection import Connection, transaction
from reelrank.control.controls import add_mutes, list_mutes, list_see_fewer
from reelrank.settings import Settings

__all__ = ["add_user_mutes", "mutes_out"]

_WORD = re.compile(r"\w", re.UNICODE)


def _words(words: list[str], settings: Settings) -> list[str]:
    out = []
    for n, raw in enumerate(words):
        word = re.sub(r"\s+", " ", raw).strip().lower()
        if not _WORD.search(word):
            raise InvalidInputError(f"words[{n}]: {raw!r} holds no letter or digit to match",
                                    ("words", n))
        if len(word) > settings.mute_word_max_chars:
            raise InvalidInputError(f"words[{n}]: {len(word)} characters, at most "
                                    f"{settings.mute_word_max_chars}", ("words", n))
        out.append(word)
    return list(dict.fromkeys(out))


def _topics(topics: list[str], known: dict[str, int]) -> list[str]:
    by_lower = {t.lower(): t for t in known}
    out = []
    for n, raw in enumerate(topics):
        topic = by_lower.get(raw.strip().lower())
        if topic is None:
            raise InvalidInputError(f"topics[{n}]: {raw!r} is not a topic of the catalog; "
                                    f"its topics are {', '.join(sorted(known))}",
                                    ("topics", n))
        out.append(topic)
    return list(dict.fromkeys(out))


def add_user_mutes(control: Connection, snap, user: object, words: list[str],
                   topics: list[str], settings: Settings, now: datetime) -> dict[str, object]:
    """Mute `words` and `topics` (422 naming the entry that cannot be; 409 past
    `mutes_max`); returns every mute the user holds."""
    if not words and not topics:
        raise InvalidInputError("words, topics: name at least one word or topic to mute",
                                ("words",))
    words, topics = _words(words, settings), _topics(topics, snap.topic_code)
    with transaction(control):
        held = {(m["kind"], m["value"]) for m in list_mutes(control, user)}
        wanted = held | {("word", w) for w in words} | {("topic", t) for t in topics}
        if len(wanted) > settings.mutes_max:
            raise ConflictError(f"{len(wanted)} mutes, at most {settings.mutes_max}: "
                                "unmute some first")
        add_mutes(control, user, "word", words, now=now)
        add_mutes(control, user, "topic", topics, now=now)
    return mutes_out(control, user, now)


def mutes_out(control: Connection, user: object, now: datetime) -> dict[str, object]:
    mutes = list_mutes(control, user)
    return {"words": [m["value"] for m in mutes if m["kind"] == "word"],
            "topics": [m["value"] for m in mutes if m["kind"] == "topic"],
            "see_fewer": list_see_fewer(control, user, now)}
