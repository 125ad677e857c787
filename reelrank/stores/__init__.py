"""The two stores of a data home: the DuckDB warehouse and the SQLite control store."""

from reelrank.stores.control import CONTROL_MIGRATIONS, chat_opted_in, open_control
from reelrank.stores.migrate import Migration, current_version
from reelrank.stores.warehouse import WAREHOUSE_MIGRATIONS, open_warehouse

__all__ = [
    "CONTROL_MIGRATIONS",
    "WAREHOUSE_MIGRATIONS",
    "Migration",
    "chat_opted_in",
    "current_version",
    "open_control",
    "open_warehouse",
]
