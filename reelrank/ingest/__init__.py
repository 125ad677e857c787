"""Ingestion: load input files into a data home, validated against the contracts.

`ingest_directory` loads every table it finds in a directory (`users.parquet`, `events/`,
`items.csv`, ...) in dependency order. Each file is read in bounded batches; each batch is
validated and loaded in one transaction, so an interrupted ingest leaves whole batches, and
running it again completes the rest without duplicating anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reelrank.contracts import CONTRACTS, INGEST_ORDER
from reelrank.control.connection import transaction
from reelrank.errors import IngestError
from reelrank.geo import GeoResolver, resolver_for
from reelrank.home import DataHome
from reelrank.ingest.load import BatchResult, load_batch
from reelrank.ingest.readers import find_inputs, read_batches
from reelrank.ingest.schema import ensure_all_tables

__all__ = ["IngestReport", "TableReport", "ingest_directory", "ingest_files"]


@dataclass(frozen=True)
class TableReport:
    table: str
    files: int
    read: int
    loaded: int
    unchanged: int
    quarantined: int
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestReport:
    tables: tuple[TableReport, ...]

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables)

    @property
    def loaded(self) -> int:
        return sum(t.loaded for t in self.tables)

    def table(self, name: str) -> TableReport:
        for t in self.tables:
            if t.table == name:
                return t
        raise KeyError(name)


def ingest_directory(
    home: DataHome,
    directory: Path,
    *,
    now: datetime | None = None,
    geo: GeoResolver | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load every recognised table file under `directory` into `home`."""
    if not directory.is_dir():
        raise IngestError(f"{directory} is not a directory")
    plan = {t: find_inputs(directory, t) for t in INGEST_ORDER}
    plan = {t: files for t, files in plan.items() if files}
    if not plan:
        known = ", ".join(INGEST_ORDER)
        raise IngestError(f"{directory} holds no input files (looked for: {known})")
    return ingest_files(home, plan, now=now, geo=geo, progress=progress)


def ingest_files(
    home: DataHome,
    plan: dict[str, list[Path]],
    *,
    now: datetime | None = None,
    geo: GeoResolver | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load `plan` ({table: files}) into `home`, tables in dependency order."""
    unknown = sorted(set(plan) - set(CONTRACTS))
    if unknown:
        raise IngestError(f"unknown table(s) {unknown}; known: {', '.join(INGEST_ORDER)}")
    now = now or datetime.now(UTC)
    geo = geo or resolver_for(home.settings.geoip_database)
    say = progress or (lambda _line: None)
    reports = []
    with home.write_lock():
        con = home.warehouse()
        control = home.control()
        try:
            for table in [t for t in INGEST_ORDER if t in plan]:
                total = BatchResult()
                files = plan[table]
                for n, path in enumerate(files, start=1):
                    total.add(_ingest_file(con, control, table, path, home, now, geo))
                    say(f"ingest {table}: file {n}/{len(files)}, {total.read:,} read, "
                        f"{total.loaded:,} loaded, {total.quarantined:,} quarantined")
                reports.append(TableReport(table, len(files), total.read, total.loaded,
                                           total.unchanged, total.quarantined, total.refused,
                                           total.reasons))
            ensure_all_tables(con)
        finally:
            con.close()
            control.close()
    return IngestReport(tuple(reports))


def _ingest_file(con, control, table, path, home, now, geo) -> BatchResult:
    contract = CONTRACTS[table]
    started = datetime.now(UTC)
    (ingest_id,) = con.execute("SELECT nextval('ingest_id_seq')").fetchall()[0]
    total = BatchResult()
    for batch in read_batches(path, home.settings.ingest_batch_rows):
        con.execute("BEGIN")
        try:
            with transaction(control):  # both stores commit the batch, or neither
                result = load_batch(con, control, contract, batch, ingest_id=ingest_id,
                                    source=str(path), now=now,
                                    skew_s=home.settings.clock_skew_s, geo=geo)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        total.add(result)
    con.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ingest_id, str(path), table, total.read, total.loaded, total.unchanged,
         total.quarantined, started, datetime.now(UTC)],
    )
    return total
