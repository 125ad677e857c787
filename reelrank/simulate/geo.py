"""Countries of the synthetic world and the public IPv4 blocks its users connect from.

The blocks below are real, publicly routed ranges allocated to ISPs in each country (checked
against the `iptocc` database the ingest path uses: every address resolves to the listed
country). They exist **for the synthetic world only**: nothing here says anything about the
people who really use those addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["COUNTRIES", "Country", "country_codes", "country_weights", "draw_ips", "ip_strings"]


@dataclass(frozen=True)
class Country:
    """A home country: signup weight, UTC offset for the daily rhythm, ISP /16 blocks, and
    the topics its users lean towards (so regional popularity means something)."""

    code: str
    weight: float
    utc_offset_h: float
    blocks: tuple[str, ...]  # "a.b" meaning a.b.0.0/16
    favourites: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country("US", 0.30, -5.0, ("73.0", "24.0", "71.0", "99.0", "108.0"),
            ("gaming", "fitness", "comedy", "cars")),
    Country("IN", 0.18, 5.5, ("49.36", "117.200", "106.192", "223.176"),
            ("movies", "tech", "music", "cooking")),
    Country("BR", 0.14, -3.0, ("177.100", "189.0", "201.0", "200.147"),
            ("football", "dance", "music")),
    Country("GB", 0.08, 0.0, ("86.0", "90.192", "82.0", "109.144"),
            ("football", "comedy", "history")),
    Country("DE", 0.08, 1.0, ("91.64", "84.128", "93.192", "79.192"),
            ("cars", "football", "tech")),
    Country("JP", 0.08, 9.0, ("126.100", "60.32", "114.144", "153.128"),
            ("anime", "gaming", "cats")),
    Country("MX", 0.08, -6.0, ("187.128", "189.128", "201.141", "148.240"),
            ("football", "cooking", "music")),
    Country("NG", 0.06, 1.0, ("102.88", "105.112", "41.58", "197.210"),
            ("football", "music", "comedy", "fashion")),
)


def country_codes() -> tuple[str, ...]:
    """ISO-2 codes in table order (a user's country is an index into this)."""
    return tuple(c.code for c in COUNTRIES)


def country_weights() -> np.ndarray:
    """Signup weights, normalised to sum to one."""
    w = np.array([c.weight for c in COUNTRIES], dtype=np.float64)
    return w / w.sum()


def _block_table() -> tuple[np.ndarray, np.ndarray]:
    """Every block's /16 prefix as an integer, plus each country's first row in the table."""
    prefixes: list[int] = []
    starts = [0]
    for country in COUNTRIES:
        for block in country.blocks:
            a, b = (int(p) for p in block.split("."))
            prefixes.append((a << 24) | (b << 16))
        starts.append(len(prefixes))
    return np.array(prefixes, dtype=np.int64), np.array(starts, dtype=np.int64)


_PREFIXES, _STARTS = _block_table()


def draw_ips(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """One random host address (as int64) inside a block of each given country index.

    Host octets stay within 1..254 so no address looks like a network or broadcast address.
    """
    country = np.asarray(country, dtype=np.int64)
    n_blocks = _STARTS[country + 1] - _STARTS[country]
    block = _STARTS[country] + (rng.random(country.shape[0]) * n_blocks).astype(np.int64)
    third = rng.integers(0, 256, country.shape[0], dtype=np.int64)
    fourth = rng.integers(1, 255, country.shape[0], dtype=np.int64)
    return _PREFIXES[block] | (third << 8) | fourth


def ip_strings(addresses: np.ndarray, name: str = "ip") -> pl.Series:
    """Dotted-quad strings of int64 IPv4 addresses."""
    values = np.asarray(addresses, dtype=np.int64)
    octets = [pl.Series((values >> shift) & 255).cast(pl.String) for shift in (24, 16, 8, 0)]
    return pl.select(pl.concat_str(octets, separator=".").alias(name)).to_series()
