"""Chat-history personalisation settings and the chat snippets of users who opted in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import US_PER_DAY, categorical_rows, stage_rng, uniform_between
from .config import WorldConfig
from .population import Guardians, Population
from .text import chat_texts

__all__ = ["ChatWorld", "draw_chats"]

_TOP_INTEREST_POWER = 2.0  # people ask the assistant about what they care most about


@dataclass(frozen=True)
class ChatWorld:
    """Per-user opt-in flag and when it was set; chat rows for opted-in users."""

    opted_in: np.ndarray  # bool per user
    updated_us: np.ndarray  # int64 per user
    chat_user: np.ndarray  # int64 user index per chat, sorted by (user, time)
    chat_us: np.ndarray  # int64
    chat_text: list[str]


def draw_chats(seed: int, people: Population, guardians: Guardians, start_us: int,
               end_us: int, config: WorldConfig) -> ChatWorld:
    """Opt-in is off by default for supervised minors; chats fall inside the world's days."""
    settings_rng = stage_rng(seed, "settings")
    supervised = np.zeros(people.size, dtype=bool)
    supervised[guardians.child] = True
    share = np.where(supervised, config.supervised_chat_opt_in, config.chat_opt_in)
    opted_in = settings_rng.random(people.size) < share
    updated_us = uniform_between(settings_rng, people.created_us,
                                 np.minimum(people.created_us + 30 * US_PER_DAY, end_us))

    rng = stage_rng(seed, "chats")
    users = np.flatnonzero(opted_in)
    count = rng.integers(config.chats_min, config.chats_max + 1, users.size)
    chat_user = np.repeat(users, count)
    topic = categorical_rows(rng, people.interests.astype(np.float64) ** _TOP_INTEREST_POWER,
                             chat_user)
    since = np.maximum(people.created_us[chat_user], start_us)
    chat_us = uniform_between(rng, since, end_us)
    texts = chat_texts(rng, topic)
    order = np.lexsort((chat_us, chat_user))
    return ChatWorld(opted_in=opted_in, updated_us=updated_us, chat_user=chat_user[order],
                     chat_us=chat_us[order], chat_text=[texts[i] for i in order])
