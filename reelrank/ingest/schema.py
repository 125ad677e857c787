"""Warehouse DDL derived from the contracts, for the id types a home has settled on."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from reelrank.contracts import Field, IdDomain, Kind, TableContract

__all__ = ["ensure_table", "load_id_types", "record_id_types", "warehouse_columns"]

_SQL = {
    Kind.TIMESTAMP: "TIMESTAMPTZ",
    Kind.TEXT: "VARCHAR",
    Kind.INT: "BIGINT",
    Kind.FLOAT: "DOUBLE",
    Kind.BOOL: "BOOLEAN",
    Kind.ENUM: "VARCHAR",
    Kind.COUNTRY: "VARCHAR",
}


def warehouse_columns(contract: TableContract) -> tuple[str, ...]:
    """Stored columns: the contract's, except that an IP becomes the country it resolves to."""
    return tuple("country" if f.kind is Kind.IP else f.name for f in contract.fields)


def _column_sql(f: Field, id_types: Mapping[IdDomain, str]) -> str:
    if f.kind is Kind.ID:
        sql = id_types[f.domain]
    elif f.kind is Kind.ID_LIST:
        sql = f"{id_types[f.domain]}[]"
    elif f.kind is Kind.IP:
        return "country VARCHAR NOT NULL"
    else:
        sql = _SQL[f.kind]
    not_null = " NOT NULL" if f.required or f.default is not None else ""
    return f"{f.name} {sql}{not_null}"


def ensure_table(con: duckdb.DuckDBPyConnection, contract: TableContract,
                 id_types: Mapping[IdDomain, str]) -> None:
    """Create the raw table for `contract` if it does not exist yet."""
    columns = [_column_sql(f, id_types) for f in contract.fields]
    if not contract.immutable:
        # Immutable logs (events, chats) skip the key index: at tens of millions of rows it
        # costs more than the anti-join that keeps re-ingest idempotent.
        columns.append(f"PRIMARY KEY ({', '.join(contract.key)})")
    con.execute(f"CREATE TABLE IF NOT EXISTS {contract.name} ({', '.join(columns)})")


def load_id_types(con: duckdb.DuckDBPyConnection) -> dict[IdDomain, str]:
    return {IdDomain(d): t for d, t in con.execute("SELECT domain, sql_type FROM id_types").fetchall()}


def record_id_types(con: duckdb.DuckDBPyConnection, id_types: Mapping[IdDomain, str]) -> None:
    for domain, sql_type in id_types.items():
        con.execute(
            "INSERT INTO id_types VALUES (?, ?) ON CONFLICT (domain) DO NOTHING",
            [domain.value, sql_type],
        )
