"""Record-level validation: turn a raw frame into typed values plus a reason per bad record.

Everything is one vectorized pass of Polars expressions; only values that need a real parser
(IPv6 addresses, non-UTF-8 binary) fall back to Python, and only for those values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from reelrank.contracts import Field, IdDomain, Kind, TableContract
from reelrank.errors import ContractError, SchemaMismatchError

__all__ = [
    "ID_DTYPES", "Coerced", "coerce", "infer_id_type", "seconds_to_ts", "timestamp_expr",
]

ID_DTYPES: Mapping[str, pl.DataType] = {"BIGINT": pl.Int64(), "VARCHAR": pl.String()}
_REASON = "_reason"
_IPV4 = (
    r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
)
_INT_TEXT = r"^\s*[+-]?[0-9]+\s*$"


@dataclass(frozen=True)
class Coerced:
    """`frame` holds the contract's columns, typed, plus `_reason` (null when the record is
    good) and `_record_no`."""

    frame: pl.DataFrame


def infer_id_type(series: pl.Series) -> str:
    """The SQL type a new id domain takes from its first data: integers stay integers.

    Text that is entirely integers (ids from CSV or JSON Lines, where the file carries no
    types) is read as integers too, because that is what its producer almost always meant.
    """
    if series.dtype.is_integer():
        return "BIGINT"
    if series.dtype == pl.String:
        values = series.drop_nulls()
        if len(values) and values.str.contains(_INT_TEXT).all():
            return "BIGINT"
        return "VARCHAR"
    raise ContractError(f"column {series.name!r} holds {series.dtype}, not ids")


def _fail(message: pl.Expr | str) -> pl.Expr:
    return message if isinstance(message, pl.Expr) else pl.lit(message)


def _shown(col: pl.Expr) -> pl.Expr:
    return col.cast(pl.String).str.slice(0, 60)


def _as_text(name: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    col = pl.col(name)
    if dtype == pl.Binary:
        decoded = col.map_elements(_decode_utf8, return_dtype=pl.String)
        bad = pl.when(col.is_not_null() & decoded.is_null()).then(
            _fail(f"field {name!r} is not valid UTF-8"))
        return decoded, bad
    text = col.cast(pl.String)
    # Readers decode CSV/JSON Lines leniently, turning invalid bytes into U+FFFD, so the
    # record can be named and quarantined instead of failing its whole file.
    bad = pl.when(text.str.contains("\ufffd", literal=True)).then(
        _fail(f"field {name!r} is not valid UTF-8"))
    return text, bad


def _decode_utf8(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def seconds_to_ts(seconds: pl.Expr) -> pl.Expr:
    """Unix seconds (integer or fractional) as UTC microseconds, rounded rather than
    truncated, so a float like 1593898068.378 keeps its milliseconds exactly."""
    return (seconds.cast(pl.Float64) * 1_000_000).round(0).cast(pl.Int64, strict=False).cast(
        pl.Datetime("us", "UTC"))


def timestamp_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column `name` as UTC microseconds: datetimes (naive ones are UTC), dates, numbers as
    unix seconds, ISO-8601 text. Null where the value is none of those."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        cast = col.cast(pl.Datetime("us", dtype.time_zone))
        return (cast.dt.convert_time_zone("UTC") if dtype.time_zone
                else cast.dt.replace_time_zone("UTC"))
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer() or dtype.is_float():
        # Numeric timestamps are unix seconds (the convention of the logs we import).
        return seconds_to_ts(col)
    text = col.cast(pl.String).str.strip_chars().str.replace(r"Z$", "+00:00").str.replace(
        r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC",
                             time_unit="us"),
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
        .dt.replace_time_zone("UTC"),
        text.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us")
        .dt.replace_time_zone("UTC"),
        text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
        seconds_to_ts(text.cast(pl.Float64, strict=False)),
    )


def _integer(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype.is_integer():
        return col.cast(pl.Int64)
    if dtype.is_float():
        return pl.when(col == col.round(0)).then(col.cast(pl.Int64, strict=False))
    text = col.cast(pl.String).str.strip_chars()
    return pl.when(text.str.contains(_INT_TEXT)).then(text.cast(pl.Int64, strict=False))


def _boolean(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col
    text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (pl.when(text.is_in(["true", "1", "yes", "t"])).then(True)
            .when(text.is_in(["false", "0", "no", "f"])).then(False))


def _id(f: Field, dtype: pl.DataType, id_type: str, source: str) -> pl.Expr:
    col = pl.col(f.name)
    if id_type == "VARCHAR":
        if dtype.is_integer():
            raise SchemaMismatchError(
                f"{source}: field {f.name!r} holds integer ids, but this home stores "
                f"{f.domain.value} ids as strings; ids must keep one type")
        return pl.when(col.cast(pl.String).str.len_chars() > 0).then(col.cast(pl.String))
    return _integer(f.name, dtype)


def _id_list(f: Field, dtype: pl.DataType, id_type: str) -> pl.Expr:
    target = ID_DTYPES[id_type]
    col = pl.col(f.name)
    if isinstance(dtype, pl.List):
        return col.cast(pl.List(target), strict=False)
    # Text files carry lists as a JSON array or as "a|b|c".
    text = col.cast(pl.String).str.strip_chars()
    parts = (
        pl.when(text.str.starts_with("["))
        .then(text.str.strip_chars("[]").str.replace_all('"', "").str.split(","))
        .otherwise(text.str.split("|"))
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 0))
    )
    return parts.cast(pl.List(target), strict=False)


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _ip(name: str) -> pl.Expr:
    text = pl.col(name).cast(pl.String).str.strip_chars()
    maybe_v6 = text.str.contains(":", literal=True)
    v6_ok = text.map_elements(_valid_ip, return_dtype=pl.Boolean)
    ok = text.str.contains(_IPV4) | (maybe_v6 & v6_ok)
    return pl.when(ok).then(text)


def _value(f: Field, dtype: pl.DataType, id_types: Mapping[IdDomain, str], source: str
           ) -> tuple[pl.Expr, pl.Expr | None, str]:
    """(typed value, extra error expression or None, what was expected)."""
    match f.kind:
        case Kind.ID:
            return _id(f, dtype, id_types[f.domain], source), None, "an id"
        case Kind.ID_LIST:
            return _id_list(f, dtype, id_types[f.domain]), None, "a list of ids"
        case Kind.TIMESTAMP:
            return timestamp_expr(f.name, dtype), None, "a timestamp"
        case Kind.TEXT:
            value, bad = _as_text(f.name, dtype)
            return value, bad, "text"
        case Kind.INT:
            return _integer(f.name, dtype), None, "an integer"
        case Kind.FLOAT:
            return pl.col(f.name).cast(pl.Float64, strict=False), None, "a number"
        case Kind.BOOL:
            return _boolean(f.name, dtype), None, "true or false"
        case Kind.ENUM:
            text = pl.col(f.name).cast(pl.String).str.strip_chars()
            return pl.when(text.is_in(list(f.choices))).then(text), None, (
                "one of " + ", ".join(f.choices))
        case Kind.COUNTRY:
            text = pl.col(f.name).cast(pl.String).str.strip_chars().str.to_uppercase()
            return pl.when(text.str.contains(r"^[A-Z]{2}$")).then(text), None, (
                "an ISO-3166 two-letter country code")
        case Kind.IP:
            return _ip(f.name), None, "an IP address"
    raise AssertionError(f.kind)


def coerce(
    raw: pl.DataFrame,
    contract: TableContract,
    id_types: Mapping[IdDomain, str],
    *,
    now: datetime,
    skew_s: int,
    source: str,
    first_record_no: int = 1,
) -> Coerced:
    """Type `raw` by `contract`; every broken record gets a reason naming field and value.

    Raises `ContractError` only for what breaks the whole input: a required column missing.
    """
    missing = [f.name for f in contract.fields if f.required and f.name not in raw.columns]
    if missing:
        raise ContractError(
            f"{source}: missing required column(s) {', '.join(missing)} for table "
            f"{contract.name} (columns found: "
            f"{', '.join(c for c in raw.columns if c != '_line_no') or 'none'})")
    if "_line_no" in raw.columns:  # CSV and JSON Lines: record numbers are line numbers
        frame = raw.rename({"_line_no": "_record_no"})
    else:
        frame = raw.with_row_index("_record_no", offset=first_record_no)
    values: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    horizon = pl.lit(now).cast(pl.Datetime("us", "UTC")) + pl.duration(seconds=skew_s)
    for f in contract.fields:
        if f.name not in raw.columns:
            values.append(_default(f, id_types).alias(f.name))
            continue
        col = pl.col(f.name)
        value, extra, expected = _value(f, raw.schema[f.name], id_types, source)
        present = col.is_not_null()
        if raw.schema[f.name] == pl.String:
            present = present & (col.str.strip_chars().str.len_chars() > 0)
        if extra is not None:
            reasons.append(extra)
        reasons.append(pl.when(present & value.is_null()).then(
            pl.format(f"field '{f.name}': {{}} is not {expected}", _shown(col).fill_null(""))))
        if f.required:
            reasons.append(pl.when(~present).then(_fail(f"field '{f.name}' is missing")))
        if f.kind is Kind.ID_LIST:
            reasons.append(pl.when(present & value.list.eval(pl.element().is_null()).list.any())
                           .then(_fail(f"field '{f.name}' holds an id of the wrong type")))
        if f.minimum is not None:
            reasons.append(pl.when(value < f.minimum).then(pl.format(
                f"field '{f.name}': {{}} is below the minimum {f.minimum:g}", value)))
        if f.maximum is not None:
            reasons.append(pl.when(value > f.maximum).then(pl.format(
                f"field '{f.name}': {{}} is above the maximum {f.maximum:g}", value)))
        if f.kind is Kind.TIMESTAMP:
            reasons.append(pl.when(value > horizon).then(pl.format(
                f"field '{f.name}': {{}} is in the future", value.dt.to_string())))
        if f.default is not None:
            value = value.fill_null(pl.lit(f.default, dtype=_dtype(f, id_types)))
        values.append(value.cast(_dtype(f, id_types)).alias(f.name))
    typed = frame.select(pl.col("_record_no"), *values, pl.concat_str(
        reasons, separator="; ", ignore_nulls=True).alias(_REASON))
    typed = typed.with_columns(_cross_field_reasons(contract))
    return Coerced(typed.with_columns(
        pl.when(pl.col(_REASON).str.len_chars() > 0).then(pl.col(_REASON)).alias(_REASON)))


def _cross_field_reasons(contract: TableContract) -> pl.Expr:
    checks = [pl.col(_REASON).replace("", None)]
    for a, b in contract.distinct:
        checks.append(pl.when(pl.col(a) == pl.col(b)).then(
            _fail(f"fields '{a}' and '{b}' must differ")))
    for a, b in contract.ordered:
        checks.append(pl.when(pl.col(b) < pl.col(a)).then(
            _fail(f"field '{b}' is earlier than '{a}'")))
    return pl.concat_str(checks, separator="; ", ignore_nulls=True).alias(_REASON)


def _dtype(f: Field, id_types: Mapping[IdDomain, str]) -> pl.DataType:
    match f.kind:
        case Kind.ID:
            return ID_DTYPES[id_types[f.domain]]
        case Kind.ID_LIST:
            return pl.List(ID_DTYPES[id_types[f.domain]])
        case Kind.TIMESTAMP:
            return pl.Datetime("us", "UTC")
        case Kind.INT:
            return pl.Int64()
        case Kind.FLOAT:
            return pl.Float64()
        case Kind.BOOL:
            return pl.Boolean()
        case _:
            return pl.String()


def _default(f: Field, id_types: Mapping[IdDomain, str]) -> pl.Expr:
    dtype = _dtype(f, id_types)
    if f.kind is Kind.ID_LIST:
        return pl.lit([], dtype=dtype)
    return pl.lit(f.default, dtype=dtype)
