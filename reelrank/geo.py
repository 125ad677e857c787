"""IP address to location, offline.

The design keeps raw IPs no longer than ingestion needs: events are resolved to a country
as they are loaded and the address itself is not stored. Addresses that are private,
reserved or not in the database resolve to an explicit "unknown", never to an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import polars as pl

__all__ = ["UNKNOWN", "CountryResolver", "GeoResolver", "StaticResolver"]

UNKNOWN = "unknown"


class GeoResolver(Protocol):
    def countries(self, ips: pl.Series) -> pl.Series:
        """ISO-3166 alpha-2 code per address (`UNKNOWN` where it cannot be told)."""
        ...


def _resolve_unique(ips: pl.Series, lookup: object) -> pl.Series:
    unique = ips.drop_nulls().unique()
    codes = lookup(unique.to_list())  # type: ignore[operator]
    table = pl.DataFrame({"ip": unique, "country": pl.Series(codes, dtype=pl.String)})
    resolved = pl.DataFrame({"ip": ips}).join(table, on="ip", how="left", maintain_order="left")
    return resolved["country"].fill_null(UNKNOWN).alias("country")


class CountryResolver:
    """Country-level lookups from the database the `iptocc` package ships (IPv4 and IPv6)."""

    def __init__(self) -> None:
        import iptocc  # deferred: loads its database on first use

        self._lookup = iptocc.country_code

    def countries(self, ips: pl.Series) -> pl.Series:
        return _resolve_unique(ips, self._lookup)


class StaticResolver:
    """A fixed table, for tests that need to know exactly what each address maps to."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self._table = dict(table)

    def countries(self, ips: pl.Series) -> pl.Series:
        return _resolve_unique(ips, lambda values: [self._table.get(v) for v in values])
