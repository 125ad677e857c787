"""Dagster resources: the only way assets reach external systems."""

from collections.abc import Sequence

import dagster as dg

from reelrank.home import DataHome

__all__ = ["HomeResource"]


class HomeResource(dg.ConfigurableResource):
    """The data home (warehouse, control store, artifacts) the pipeline reads and writes."""

    path: str

    def open(self) -> DataHome:
        return DataHome.open(self.path)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Rows of one read query on the warehouse (for checks and metadata)."""
        con = self.open().warehouse()
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()
