"""Filters, cheapest first. Each is one module with a NAME, `applies(policy)` and
`drop(snap, query, live, rows)` returning the mask of candidate rows it removes; the policy
module runs them and counts removals under each name, which is how "why was this video not
shown" is answered. Adding a filter is one module and one line here."""

from __future__ import annotations

from ranking.filters import blocked, consent, safety, seen

__all__ = ["FILTERS"]

FILTERS = tuple((m.NAME, m.applies, m.drop) for m in (safety, seen, blocked, consent))
