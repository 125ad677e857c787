"""Dagster resources: the only way assets reach external systems."""


import dagster as dg

from reelrank.home import DataHome

__all__ = ["HomeResource"]


class HomeResource(dg.ConfigurableResource):
    """The data home (warehouse, control store, artifacts) the pipeline reads and writes."""

    path: str

    def open(self) -> DataHome:
        return DataHome.open(self.path)
