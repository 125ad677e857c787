"""Ids as the home stores them: a path or query parameter arrives as text, but a home whose
user ids are integers stores them as integers, and the control store compares by type.

The live snapshot says which type each id space has; before any snapshot is loaded, text
that is all digits is taken as an integer, the rule ingestion applies to untyped files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from api.errors import InvalidInputError
from reelrank.contracts import IdDomain

__all__ = ["IdCodec", "UserId"]

UserId = int | str
_DIGITS = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class IdCodec:
    """`integer` per id space: True, False, or None (not known yet)."""

    users: bool | None = None
    items: bool | None = None

    @classmethod
    def of(cls, user_dtype: pl.DataType, item_dtype: pl.DataType) -> IdCodec:
        return cls(user_dtype.is_integer(), item_dtype.is_integer())

    def user(self, value: UserId, *, name: str = "user_id") -> UserId:
        """`value` typed as this home's user ids; 422 naming `name` when it cannot be."""
        if isinstance(value, bool):
            raise InvalidInputError(f"{name}: {value!r} is not an id", (name,))
        text = str(value).strip()
        if not text:
            raise InvalidInputError(f"{name}: an id cannot be empty", (name,))
        integer = self.users if self.users is not None else bool(_DIGITS.match(text))
        if not integer:
            return text
        if not _DIGITS.match(text) or len(text) > 19:
            raise InvalidInputError(
                f"{name}: {text[:60]!r} is not an id of this home (its user ids are integers)",
                (name,))
        return int(text)

    def item(self, value: UserId, *, name: str = "item_id") -> UserId:
        """`value` typed as this home's item ids. Generated items' ids are text
        (`g-<request>`) in any home, so text that is not all digits stays text."""
        if isinstance(value, bool):
            raise InvalidInputError(f"{name}: {value!r} is not an id", (name,))
        text = str(value).strip()
        if not text:
            raise InvalidInputError(f"{name}: an id cannot be empty", (name,))
        integer = self.items if self.items is not None else bool(_DIGITS.match(text))
        if integer and _DIGITS.match(text) and len(text) <= 19:
            return int(text)
        return text

    def id_types(self) -> dict[IdDomain, str]:
        """Contract id types for validating events like ingestion does; a space not known
        yet (and event ids, which no snapshot holds) takes text, which holds any id."""
        def sql(integer: bool | None) -> str:
            return "BIGINT" if integer else "VARCHAR"
        return {IdDomain.USER: sql(self.users), IdDomain.ITEM: sql(self.items),
                IdDomain.EVENT: "VARCHAR"}
