"""IP address to location (country and region), offline.

The design keeps raw IPs no longer than ingestion needs: events are resolved as they are
loaded and the address itself is not stored. Addresses that are private, reserved, or not
in the database resolve to an explicit "unknown", never to an error.

- `MaxMindResolver` reads any MaxMind-format database a user supplies (GeoIP2/GeoLite2
  Country or City); with a City database the region is the first subdivision ("US-CA").
- `BundledResolver`, the default, needs nothing supplied: countries come from the `iptocc`
  package's current database, and regions from the GeoLite2 City database that the
  `maxminddb-geolite2` package ships (dated 2018, so it is only trusted where it agrees
  with the current country). Without a subdivision the region is the country itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import polars as pl

from reelrank.errors import ReelrankError

__all__ = [
    "UNKNOWN",
    "BundledResolver",
    "GeoResolver",
    "MaxMindResolver",
    "StaticResolver",
    "resolver_for",
]

UNKNOWN = "unknown"
Location = tuple[str | None, str | None]


class GeoResolver(Protocol):
    def locate(self, ips: pl.Series) -> pl.DataFrame:
        """Columns `country` (ISO-3166 alpha-2) and `region`, one row per address, in
        order; `UNKNOWN` where an address cannot be placed (or is null)."""
        ...


def _resolve_unique(ips: pl.Series, lookup: Callable[[Sequence[str]], list[Location]]
                    ) -> pl.DataFrame:
    """Look each distinct address up once (event logs repeat addresses heavily)."""
    unique = ips.drop_nulls().unique().to_list()
    found = lookup(unique)
    table = pl.DataFrame(
        {"ip": unique, "country": [c for c, _ in found], "region": [r for _, r in found]},
        schema={"ip": pl.String, "country": pl.String, "region": pl.String})
    out = pl.DataFrame({"ip": ips.cast(pl.String)}).join(
        table, on="ip", how="left", maintain_order="left")
    return out.select(
        pl.col("country").fill_null(UNKNOWN),
        pl.coalesce("region", "country").fill_null(UNKNOWN).alias("region"))


def _from_record(record: object) -> Location:
    if not isinstance(record, dict):
        return None, None
    country = (record.get("country") or record.get("registered_country") or {}).get("iso_code")
    subdivisions = record.get("subdivisions") or []
    if country and subdivisions and subdivisions[0].get("iso_code"):
        return country, f"{country}-{subdivisions[0]['iso_code']}"
    return country, country


class MaxMindResolver:
    """Lookups in a MaxMind-format database file (Country or City)."""

    def __init__(self, path: Path) -> None:
        import maxminddb

        if not Path(path).is_file():
            raise ReelrankError(f"GeoIP database {path} does not exist")
        try:
            self._reader = maxminddb.open_database(str(path))
        except (maxminddb.InvalidDatabaseError, ValueError) as exc:
            raise ReelrankError(f"{path} is not a MaxMind-format database ({exc})") from exc

    def _lookup(self, ips: Sequence[str]) -> list[Location]:
        return [_from_record(self._reader.get(ip)) for ip in ips]

    def locate(self, ips: pl.Series) -> pl.DataFrame:
        return _resolve_unique(ips, self._lookup)


class BundledResolver:
    """Current countries from `iptocc`, regions from the bundled GeoLite2 City database."""

    def __init__(self) -> None:
        import iptocc
        from _maxminddb_geolite2 import geolite2_database

        self._country = iptocc.country_code
        self._city = MaxMindResolver(Path(geolite2_database()))

    def _lookup(self, ips: Sequence[str]) -> list[Location]:
        countries = self._country(list(ips))
        located = []
        for ip, country in zip(ips, countries):
            if country is None:
                located.append((None, None))
                continue
            old_country, region = self._city._lookup([ip])[0]
            located.append((country, region if old_country == country else country))
        return located

    def locate(self, ips: pl.Series) -> pl.DataFrame:
        return _resolve_unique(ips, self._lookup)


class StaticResolver:
    """A fixed table {ip: (country, region)}, for tests that must know the answer."""

    def __init__(self, table: Mapping[str, Location]) -> None:
        self._table = dict(table)

    def locate(self, ips: pl.Series) -> pl.DataFrame:
        return _resolve_unique(ips, lambda v: [self._table.get(ip, (None, None)) for ip in v])


def resolver_for(database: Path | None) -> GeoResolver:
    """The configured resolver: a user-supplied MaxMind database, else the bundled one."""
    return MaxMindResolver(database) if database is not None else BundledResolver()
