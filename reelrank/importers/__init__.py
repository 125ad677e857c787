"""Importers: public interaction logs in, reelrank's contract tables out.

Each importer reads one public layout, derives the contract's users, items and events
(Parquet, staged in `HOME/imports/<layout>-<stamp>/` and kept there as the record of what was
derived), and loads them with `reelrank.ingest.ingest_files`, so the nightly pipeline runs
on them unchanged. Signals a layout lacks stay absent: no birth years, no countries, no
locations; where the contract requires a creator the layout does not name, one nominal
system user creates those items, and creator features then carry no information.
"""

from reelrank.importers._common import ImportReport
from reelrank.importers.generic import import_interactions
from reelrank.importers.kuairec import import_kuairec
from reelrank.importers.movielens import import_movielens

__all__ = ["ImportReport", "import_interactions", "import_kuairec", "import_movielens"]
