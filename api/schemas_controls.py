"""Request and response bodies of the user's own feed controls: steering in their words,
mutes and "see fewer like this" (the rest are in `api.schemas`; the same rules: requests
refuse unknown fields)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Id, _Request

__all__ = ["DirectionOut", "MutesIn", "MutesOut", "SeeFewerIn", "SeeFewerOut", "SteeringIn",
           "SteeringOut"]

# Lengths are checked against the settings by the routes (a clear 422 naming the field);
# these bounds only keep an absurd body from being parsed at all.
_Text = Annotated[str, StringConstraints(max_length=100_000)]
_Word = Annotated[str, StringConstraints(max_length=10_000)]


class SteeringIn(_Request):
    text: _Text = Field(description="what you want, in your words: 'more skateboarding, "
                        "less cooking, no pranks'")


class DirectionOut(BaseModel):
    kind: Literal["more", "less", "no"]
    phrase: str = Field(description="what, in your words")
    weight: float = Field(description="2 for 'a lot more', 0.5 for 'a bit less', else 1")
    topic: str | None = Field(description="the catalog topic the phrase names, if any")


class SteeringOut(BaseModel):
    text: str
    directions: list[DirectionOut]
    ignored: list[str] = Field(description="parts of the text nothing was understood in")
    applied: bool = Field(description="false while a guardian has personalization off: "
                          "steering is then kept but not used")
    model_id: str = Field(description="the embedding model the phrases were embedded with")
    updated_at: str


class MutesIn(_Request):
    words: list[_Word] = Field(default_factory=list, max_length=1_000,
                               description="words or phrases never to see in a caption or "
                               "prompt (whole words, any case)")
    topics: list[_Word] = Field(default_factory=list, max_length=1_000,
                                description="catalog topics never to see")


class SeeFewerIn(_Request):
    item_id: Id


class SeeFewerOut(BaseModel):
    item_id: Id
    topic: str | None = Field(description="the item's nearest topic, demoted")
    creator_id: Id
    created_at: str
    until: str = Field(description="demoted until then")


class MutesOut(BaseModel):
    words: list[str]
    topics: list[str]
    see_fewer: list[SeeFewerOut] = Field(description="'see fewer like this' still in force")
