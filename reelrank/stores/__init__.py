"""The data home's warehouse (DuckDB). Its other store, the SQLite control store, is
`reelrank.control`'s."""

from reelrank.migrate import Migration, current_version
from reelrank.stores.warehouse import WAREHOUSE_MIGRATIONS, open_warehouse, rewrite_warehouse

__all__ = ["WAREHOUSE_MIGRATIONS", "Migration", "current_version", "open_warehouse",
           "rewrite_warehouse"]
