"""SQL text and its bound parameters, kept apart: values travel as parameters, never as text.

DuckDB binds named parameters (`$name`) wherever a value may stand, folds them like literals
before planning (table filters and zone maps still apply), and lets a relation built from a
parameterised query be read by other queries. `Params` collects the values while SQL text is
built, so each function hands DuckDB exactly the parameters its text uses (DuckDB refuses
extra ones). A `Query` is what a function takes where it takes "rows given as SQL": text built
by this package or its callers, plus the values it needs.

Identifiers (column names from fixed tuples, window lengths as part of a column name, table
names) cannot be parameters; those stay formatted, from constants or validated integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Params", "Query", "as_query"]


@dataclass(frozen=True)
class Query:
    """SQL text and the named parameters (`$name` in `sql`) it uses."""

    sql: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping):
            raise TypeError("Query params are named ($name): pass a mapping, got "
                            f"{type(self.params).__name__}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


def as_query(query: str | Query) -> Query:
    """`query` as a `Query`; plain text (the older form) has no parameters."""
    if isinstance(query, Query):
        return query
    if isinstance(query, str):
        return Query(query)
    raise TypeError(f"expected SQL text or a Query, got {type(query).__name__}")


class Params:
    """Named parameters gathered while SQL text is built; `bind` returns the placeholder.

    Binding a name twice to the same value is fine (one parameter may appear in several
    places); to another value it is a bug and raises, naming the parameter.
    """

    def __init__(self, *given: Mapping[str, object]) -> None:
        self._values: dict[str, object] = {}
        for params in given:
            for name, value in params.items():
                self.bind(name, value)

    def bind(self, name: str, value: object) -> str:
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not an identifier")
        if name in self._values and (type(self._values[name]), self._values[name]) != (
                type(value), value):
            raise ValueError(f"parameter ${name} is bound twice, to {self._values[name]!r} "
                             f"and to {value!r}")
        self._values[name] = value
        return f"${name}"

    def add(self, query: Query) -> str:
        """Take over `query`'s parameters; returns its SQL text."""
        for name, value in query.params.items():
            self.bind(name, value)
        return query.sql

    @property
    def values(self) -> dict[str, object]:
        return dict(self._values)
