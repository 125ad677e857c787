"""Captions, generation prompts and chat snippets built from templates and topic words.

Word choices are drawn as numpy index columns; only the final string assembly is a Python
loop (a few microseconds per row), which keeps a million items to seconds.
"""

from __future__ import annotations

import re

import numpy as np

from .vocab import CAMERAS, GENERIC_CAPTIONS, STYLES, TOPICS

__all__ = ["chat_texts", "item_texts"]

_CAPTIONS = (
    "trying {action} for the first time",
    "pov: you're {action} {place}",
    "day {n} of {action} until I get good",
    "this {noun} is so {adj}",
    "rate this {noun} from 1 to 10",
    "nobody talks about how {adj} a {noun} can be",
    "{action} but make it {style}",
    "when the {noun} finally works out",
    "{adj} {noun} check",
    "wait for the {noun} at the end",
)
_PROMPTS = (
    "{subject} {action} {place}, {style}, {camera}",
    "a {style} clip of {subject} {action} with a {adj} {noun}, {camera}",
    "close-up of {subject} and a {adj} {noun} {place}, {style}",
    "{subject} showing off a {noun} {place}, {camera}, {style}",
)
_CHATS = (
    "how do I get better at {action}",
    "what {noun} should I get as a beginner",
    "give me ideas for {action} this weekend",
    "is a {noun} worth it",
    "explain {noun} like I'm five",
    "where can I go {action} near me",
    "best {adj} {noun} under $50?",
    "tips for {action} with friends",
    "why is my {noun} never as {adj} as online",
)
_GENERIC_SHARE = 0.10
_HASHTAG_SHARE = 0.35


_AN = re.compile(r"\b([Aa]) (?=[aeiou])")


def _articles(text: str) -> str:
    """"a apple" -> "an apple": templates say "a {noun}" without knowing the noun."""
    return _AN.sub(r"\1n ", text)


def _pick(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return rng.integers(0, size, n)


def _mention(ids: list[str]) -> str:
    return " and ".join(f"@{i}" for i in ids)


def item_texts(rng: np.random.Generator, topic: np.ndarray, creator_handle: list[str],
               cameos: list[list[str]]) -> list[str]:
    """One "caption\\nprompt: ..." text per item.

    Cameo videos name the people whose likeness they use: the creator as the subject, friends
    as "featuring @id". A tenth of captions are generic filler, so the prompt (always on
    topic) carries the signal there.
    """
    n = topic.shape[0]
    t0 = TOPICS[0]
    cols = {
        "cap": _pick(rng, n, len(_CAPTIONS)), "prompt": _pick(rng, n, len(_PROMPTS)),
        "noun": _pick(rng, n, len(t0.nouns)), "noun2": _pick(rng, n, len(t0.nouns)),
        "action": _pick(rng, n, len(t0.actions)), "place": _pick(rng, n, len(t0.places)),
        "subject": _pick(rng, n, len(t0.subjects)), "adj": _pick(rng, n, len(t0.adjectives)),
        "tag": _pick(rng, n, len(t0.tags)), "style": _pick(rng, n, len(STYLES)),
        "camera": _pick(rng, n, len(CAMERAS)), "generic": _pick(rng, n, len(GENERIC_CAPTIONS)),
        "day": rng.integers(2, 100, n),
    }
    use_generic = rng.random(n) < _GENERIC_SHARE
    use_tags = rng.random(n) < _HASHTAG_SHARE
    texts: list[str] = []
    for i in range(n):
        t = TOPICS[int(topic[i])]
        words = {"noun": t.nouns[cols["noun"][i]], "action": t.actions[cols["action"][i]],
                 "place": t.places[cols["place"][i]], "adj": t.adjectives[cols["adj"][i]],
                 "style": STYLES[cols["style"][i]], "camera": CAMERAS[cols["camera"][i]],
                 "n": int(cols["day"][i])}
        caption = (GENERIC_CAPTIONS[cols["generic"][i]] if use_generic[i]
                   else _CAPTIONS[cols["cap"][i]].format(**words))
        if use_tags[i]:
            first = cols["tag"][i]
            caption += f" #{t.tags[first]} #{t.tags[(first + 1) % len(t.tags)]}"
        people = cameos[i]
        self_cameo = bool(people) and people[0] == creator_handle[i]
        subject = f"@{people[0]}" if self_cameo else t.subjects[cols["subject"][i]]
        prompt = _PROMPTS[cols["prompt"][i]].format(subject=subject, **words)
        others = people[1:] if self_cameo else people
        if others:
            prompt += f", featuring {_mention(others)}"
        texts.append(_articles(f"{caption}\nprompt: {prompt}"))
    return texts


def chat_texts(rng: np.random.Generator, topic: np.ndarray) -> list[str]:
    """One assistant-chat message per row, about the given topic."""
    n = topic.shape[0]
    t0 = TOPICS[0]
    template = _pick(rng, n, len(_CHATS))
    noun = _pick(rng, n, len(t0.nouns))
    action = _pick(rng, n, len(t0.actions))
    adj = _pick(rng, n, len(t0.adjectives))
    out: list[str] = []
    for i in range(n):
        t = TOPICS[int(topic[i])]
        text = _CHATS[template[i]].format(noun=t.nouns[noun[i]], action=t.actions[action[i]],
                                          adj=t.adjectives[adj[i]])
        out.append(_articles(text))
    return out
