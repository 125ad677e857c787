"""GeoIP edge cases: everything that cannot be placed is an explicit 'unknown'."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reelrank.errors import ReelrankError
from reelrank.geo import UNKNOWN, BundledResolver, MaxMindResolver, StaticResolver, resolver_for


@pytest.fixture(scope="module")
def bundled() -> BundledResolver:
    return BundledResolver()


def _locate(resolver, ips: list[str | None]) -> list[tuple[str, str]]:
    out = resolver.locate(pl.Series("ip", ips, dtype=pl.String))
    return list(zip(out["country"].to_list(), out["region"].to_list()))


def test_public_addresses_resolve_to_country_and_region(bundled: BundledResolver) -> None:
    located = _locate(bundled, ["8.8.8.8", "81.2.69.142", "2001:4860:4860::8888"])
    assert [c for c, _ in located] == ["US", "GB", "US"]
    # GB's record in the bundled city database carries a subdivision; 8.8.8.8 has none.
    assert located[1][1].startswith("GB-")
    assert located[0][1] == "US"


@pytest.mark.parametrize("ip", [
    "10.1.2.3", "192.168.0.1", "172.16.5.4", "127.0.0.1", "0.0.0.0", "169.254.1.1",
    "240.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1", "100.64.0.1",
])
def test_private_and_reserved_addresses_are_unknown(bundled: BundledResolver, ip: str) -> None:
    assert _locate(bundled, [ip]) == [(UNKNOWN, UNKNOWN)]


def test_null_addresses_are_unknown_and_order_is_kept(bundled: BundledResolver) -> None:
    assert _locate(bundled, [None, "8.8.8.8", None]) == [
        (UNKNOWN, UNKNOWN), ("US", "US"), (UNKNOWN, UNKNOWN)]


def test_a_user_supplied_maxmind_database_is_used(tmp_path: Path) -> None:
    from _maxminddb_geolite2 import geolite2_database

    supplied = tmp_path / "City.mmdb"
    supplied.write_bytes(Path(geolite2_database()).read_bytes())
    resolver = resolver_for(supplied)
    assert isinstance(resolver, MaxMindResolver)
    assert _locate(resolver, ["81.2.69.142", "10.0.0.1"])[1] == (UNKNOWN, UNKNOWN)
    assert _locate(resolver, ["81.2.69.142"])[0][0] == "GB"


def test_a_bad_database_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReelrankError, match="does not exist"):
        MaxMindResolver(tmp_path / "missing.mmdb")
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(ReelrankError, match="not a MaxMind-format database"):
        MaxMindResolver(junk)


def test_static_resolver_for_tests() -> None:
    resolver = StaticResolver({"1.1.1.1": ("AU", "AU-NSW")})
    assert _locate(resolver, ["1.1.1.1", "2.2.2.2"]) == [("AU", "AU-NSW"), (UNKNOWN, UNKNOWN)]
