"""Read input files (Parquet, CSV, JSON Lines) as raw frames, in bounded batches.

Readers never judge records: they hand every record to validation with its record number,
decoding text leniently so that one bad record cannot make its whole file unreadable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from reelrank.errors import ContractError

__all__ = ["SUFFIXES", "RawBatch", "find_inputs", "read_batches"]

SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class RawBatch:
    """Records `first_record_no`.. of `source`; `broken` lists (record_no, reason) for
    records the reader could not even parse (JSON Lines only)."""

    frame: pl.DataFrame
    first_record_no: int
    broken: tuple[tuple[int, str, str], ...] = ()


def find_inputs(directory: Path, table: str) -> list[Path]:
    """`DIR/<table>.<ext>` and/or every supported file under `DIR/<table>/`, sorted."""
    found = [directory / f"{table}{suffix}" for suffix in SUFFIXES]
    files = [p for p in found if p.is_file()]
    folder = directory / table
    if folder.is_dir():
        files += sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return files


def read_batches(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    match path.suffix:
        case ".parquet":
            yield from _parquet(path, batch_rows)
        case ".csv":
            yield from _csv(path, batch_rows)
        case ".jsonl" | ".ndjson":
            yield from _jsonl(path, batch_rows)
        case _:
            raise ContractError(f"{path}: unsupported file type (use one of {SUFFIXES})")


def _parquet(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise ContractError(f"{path}: not a readable Parquet file ({exc})") from exc
    record_no = 1
    for batch in reader.iter_batches(batch_size=batch_rows):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield RawBatch(frame, record_no)
        record_no += frame.height


def _csv(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    # Every column is read as text: a CSV carries no types, and validation decides them
    # per contract field (so an id column of digits can still be a string-id column).
    lazy = pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
    record_no = 1
    try:
        for frame in lazy.collect_batches(chunk_size=batch_rows):
            yield RawBatch(frame, record_no)
            record_no += frame.height
    except pl.exceptions.PolarsError as exc:
        raise ContractError(f"{path}: not a readable CSV file ({exc})") from exc


def _jsonl(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    # Line by line, so a line that is not UTF-8 or not JSON is named and quarantined while
    # its neighbours still load. Scalars become text; validation types them per contract.
    rows: list[dict[str, object]] = []
    numbers: list[int] = []
    broken: list[tuple[int, str, str]] = []
    first = 1
    with path.open("rb") as handle:
        for record_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                broken.append((record_no, line[:200].decode("utf-8", "replace"),
                               "record is not valid UTF-8"))
                continue
            except json.JSONDecodeError as exc:
                broken.append((record_no, line[:200].decode("utf-8", "replace"),
                               f"record is not valid JSON ({exc.msg})"))
                continue
            if not isinstance(value, dict):
                broken.append((record_no, line[:200].decode(), "record is not a JSON object"))
                continue
            rows.append({k: _text(v) for k, v in value.items()})
            numbers.append(record_no)
            if len(rows) >= batch_rows:
                yield _json_batch(rows, numbers, broken, first)
                first = record_no + 1
                rows, numbers, broken = [], [], []
    if rows or broken:
        yield _json_batch(rows, numbers, broken, first)


def _text(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_text(v) for v in value]
    return json.dumps(value)


def _json_batch(rows: list[dict[str, object]], numbers: list[int],
                broken: list[tuple[int, str, str]], first: int) -> RawBatch:
    columns = sorted({k for row in rows for k in row})
    data = {c: [row.get(c) for row in rows] for c in columns}
    frame = pl.DataFrame(data, strict=False, infer_schema_length=None) if rows else pl.DataFrame()
    # Record numbers are line numbers, which skip blank and broken lines.
    frame = frame.with_columns(pl.Series("_line_no", numbers, dtype=pl.Int64))
    return RawBatch(frame, first, tuple(broken))
