"""Warehouse DDL derived from the contracts, for the id types a home has settled on."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from reelrank.contracts import Field, IdDomain, Kind, TableContract

__all__ = [
    "ensure_all_tables", "ensure_table", "load_id_types", "record_id_types",
    "warehouse_columns",
]

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
    """Stored columns: the contract's, except that an IP becomes the place it resolves to
    (and moves last, where the resolver appends it)."""
    kept = tuple(f.name for f in contract.fields if f.kind is not Kind.IP)
    if any(f.kind is Kind.IP for f in contract.fields):
        kept += ("country", "region")
    return kept


def _column_sql(f: Field, id_types: Mapping[IdDomain, str]) -> str:
    if f.kind is Kind.ID:
        sql = id_types[f.domain]
    elif f.kind is Kind.ID_LIST:
        sql = f"{id_types[f.domain]}[]"
    elif f.kind is Kind.IP:
        return "country VARCHAR NOT NULL, region VARCHAR NOT NULL"
    else:
        sql = _SQL[f.kind]
    not_null = " NOT NULL" if f.required or f.default is not None else ""
    return f"{f.name} {sql}{not_null}"


def ensure_table(con: duckdb.DuckDBPyConnection, contract: TableContract,
                 id_types: Mapping[IdDomain, str]) -> None:
    """Create the raw table for `contract` if it does not exist yet."""
    # The IP's place columns go last, matching the order `load` writes them in.
    fields = sorted(contract.fields, key=lambda f: f.kind is Kind.IP)
    columns = [_column_sql(f, id_types) for f in fields]
    if not contract.immutable:
        # Immutable logs (events, chats) skip the key index: at tens of millions of rows it
        # costs more than the anti-join that keeps re-ingest idempotent.
        columns.append(f"PRIMARY KEY ({', '.join(contract.identity)})")
    con.execute(f"CREATE TABLE IF NOT EXISTS {contract.name} ({', '.join(columns)})")


def load_id_types(con: duckdb.DuckDBPyConnection) -> dict[IdDomain, str]:
    return {IdDomain(d): t for d, t in con.execute("SELECT domain, sql_type FROM id_types").fetchall()}


def record_id_types(con: duckdb.DuckDBPyConnection, id_types: Mapping[IdDomain, str]) -> None:
    for domain, sql_type in id_types.items():
        con.execute(
            "INSERT INTO id_types VALUES (?, ?) ON CONFLICT (domain) DO NOTHING",
            [domain.value, sql_type],
        )


def ensure_all_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create every warehouse table that is still missing, once user and item id types are
    known, so that absent inputs (no follows, no chats in an imported log) read as empty
    tables downstream instead of missing ones. Returns the tables created."""
    from reelrank.contracts import CONTRACTS

    id_types = load_id_types(con)
    if IdDomain.USER not in id_types or IdDomain.ITEM not in id_types:
        return []
    # Id spaces no input has used yet take text, which holds any id.
    for domain in IdDomain:
        id_types.setdefault(domain, "VARCHAR")
    record_id_types(con, id_types)
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    created = []
    for contract in CONTRACTS.values():
        if contract.store == "warehouse" and contract.name not in existing:
            ensure_table(con, contract, id_types)
            created.append(contract.name)
    return created
