"""The checks a batch's records pass before they are written (`reelrank.ingest.load`): no
repeated key inside the batch, every referenced user and item known, no reuse of an
identity an immutable table holds with other content, and which records name an erased
user. Each returns what failed by record number (`_record_no`), with its reason."""

from __future__ import annotations

import duckdb
import polars as pl

from reelrank.contracts import Field, IdDomain, Kind, TableContract

__all__ = ["NO", "REASON", "about_erased", "dedupe_in_batch", "held_otherwise",
           "reference_failures"]

REASON = "_reason"
NO = "_record_no"
_REASON, _NO = REASON, NO


def _key_text(contract: TableContract) -> str:
    """The key as a reason names it: `(event_id) for the same user_id`."""
    scope = f" for the same {', '.join(contract.scope)}" if contract.scope else ""
    return f"({', '.join(contract.key)}){scope}"


def dedupe_in_batch(frame: pl.DataFrame, contract: TableContract) -> tuple[pl.DataFrame, int]:
    """Drop exact repeats of a key within the batch; a repeat with other content is
    quarantined rather than silently picking one."""
    key = list(contract.identity)
    content = [c for c in frame.columns if c not in (_NO, _REASON)]
    good = frame.filter(pl.col(_REASON).is_null())
    if good.select(pl.struct(key).is_unique().all()).item():
        return frame, 0
    hashed = good.with_columns(pl.struct(content).hash().alias("_h"))
    hashed = hashed.with_columns(
        pl.struct(key).is_first_distinct().alias("_first"),
        (pl.col("_h") == pl.col("_h").first().over(key)).alias("_same"),
    )
    repeats = hashed.filter(~pl.col("_first") & pl.col("_same"))
    conflicts = hashed.filter(~pl.col("_first") & ~pl.col("_same")).select(_NO)
    frame = frame.join(repeats.select(_NO), on=_NO, how="anti").with_columns(
        pl.when(pl.col(_NO).is_in(conflicts[_NO].implode()))
        .then(pl.lit(f"duplicate key {_key_text(contract)} with different content earlier "
                     "in this input"))
        .otherwise(pl.col(_REASON)).alias(_REASON))
    return frame, repeats.height


def reference_failures(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame,
                        contract: TableContract) -> pl.DataFrame:
    """(_record_no, reason) for good records naming a user or item that does not exist."""
    failures = []
    good = frame.filter(pl.col(_REASON).is_null())
    con.register("_batch", good)
    try:
        for f in contract.fields:
            if f.references is None:
                continue
            failures.append(_missing_refs(con, f, contract))
    finally:
        con.unregister("_batch")
    if not failures:
        return pl.DataFrame(schema={_NO: pl.Int64, "reason": pl.String})
    return pl.concat(failures).group_by(_NO).agg(pl.col("reason").str.join("; "))


def _missing_refs(con: duckdb.DuckDBPyConnection, f: Field, contract: TableContract
                  ) -> pl.DataFrame:
    target = f.references
    key = {"users": "user_id", "items": "item_id"}[target]
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [target]
    ).fetchall()[0][0]
    known = f"SELECT {key} AS id FROM {target}" if exists else "SELECT NULL AS id WHERE false"
    if target == contract.name:  # self-reference (remix_of): the same batch counts too
        known += f" UNION ALL SELECT {key} FROM _batch"
    if f.kind is Kind.ID_LIST:
        values = f"SELECT {_NO}, unnest({f.name}) AS id FROM _batch"
    else:
        values = f"SELECT {_NO}, {f.name} AS id FROM _batch WHERE {f.name} IS NOT NULL"
    sql = (
        f"SELECT v.{_NO}, 'field ''{f.name}'': unknown {target[:-1]} ' || "
        f"string_agg(DISTINCT CAST(v.id AS VARCHAR), ', ') AS reason "
        f"FROM ({values}) v ANTI JOIN ({known}) k ON v.id = k.id GROUP BY v.{_NO}"
    )
    return con.sql(sql).pl().cast({_NO: pl.Int64})


def held_otherwise(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame,
                    contract: TableContract) -> pl.DataFrame:
    """(_record_no, reason) for good records of an immutable table whose identity the table
    already holds with other content: a reused id, which re-ingesting must not mistake for
    the record it holds (and must not drop silently either)."""
    good = frame.filter(pl.col(_REASON).is_null())
    empty = pl.DataFrame(schema={_NO: pl.Int64, "reason": pl.String})
    if good.is_empty():
        return empty
    ident = contract.identity
    content = [f.name for f in contract.fields if f.kind is not Kind.IP and f.name not in ident]
    on = " AND ".join(f"b.{k} = t.{k}" for k in ident)  # column names from the contract
    differs = " OR ".join(f"b.{c} IS DISTINCT FROM t.{c}" for c in content)
    con.register("_held", good.select(_NO, *ident, *content))
    try:
        found = con.sql(f"SELECT b.{_NO} FROM _held b JOIN {contract.name} t ON {on} "
                        f"WHERE {differs}").pl()
    finally:
        con.unregister("_held")
    if found.is_empty():
        return empty
    return found.cast({_NO: pl.Int64}).with_columns(pl.lit(
        f"key {_key_text(contract)} already loaded with different content: an id names one "
        "record for good").alias("reason"))


def about_erased(frame: pl.DataFrame, contract: TableContract, erased: list[object]
                  ) -> pl.Series:
    """Whether each record names an erased user in any of its user fields."""
    hit = pl.lit(False)
    for f in contract.fields:
        if f.domain is not IdDomain.USER or f.name not in frame.columns:
            continue
        dtype = frame.schema[f.name]
        inner = dtype.inner if isinstance(dtype, pl.List) else dtype
        # Ids as the control store holds them, typed as this home types the field.
        gone = pl.Series([str(e) for e in erased], dtype=pl.String).cast(
            inner, strict=False).drop_nulls().implode()
        if isinstance(dtype, pl.List):
            hit = hit | pl.col(f.name).list.eval(pl.element().is_in(gone)).list.any() \
                .fill_null(False)
        else:
            hit = hit | pl.col(f.name).is_in(gone).fill_null(False)
    return frame.select(hit.alias("_erased")).to_series()
