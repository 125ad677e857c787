"""Read input files (Parquet, CSV, JSON Lines) as raw frames, in bounded batches.

Readers never judge records: they hand every record to validation with its record number,
decoding text leniently so that one bad record cannot make its whole file unreadable. A
record the reader cannot even split into fields (a ragged or misquoted CSV line, a JSON
Lines line that is not a JSON object) is handed on as `broken`, with its line and a reason
that names the line, and its neighbours still load.

Record numbers are row numbers in Parquet and line numbers in text files (the line a CSV
record starts on, counting the header and the line breaks inside quoted fields), so a
quarantine row points at the line to open in an editor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from reelrank.errors import ContractError
from reelrank.ingest.csv_reader import RAW_CHARS, read_csv_batches

__all__ = ["SUFFIXES", "RawBatch", "find_inputs", "read_batches"]

SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class RawBatch:
    """Records `first_record_no`.. of `source` (text files number them in `_line_no`);
    `broken` lists (record_no, raw text, reason) for records the reader could not split into
    fields (CSV and JSON Lines)."""

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
    for frame, broken in read_csv_batches(path, batch_rows):
        firsts = [n for n in (frame["_line_no"].min(), broken[0][0] if broken else None)
                  if n is not None]
        yield RawBatch(frame, int(min(firsts, default=1)), broken)


def _jsonl(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    # Line by line, so a line that is not UTF-8 or not JSON is named and quarantined while
    # its neighbours still load. Scalars become text; validation types them per contract.
    rows: list[dict[str, object]] = []
    numbers: list[int] = []
    broken: list[tuple[int, str, str]] = []
    first = 1
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            problem = None
            try:
                value = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                problem = "record is not valid UTF-8"
            except json.JSONDecodeError as exc:
                problem = f"record is not valid JSON ({exc.msg})"
            else:
                if not isinstance(value, dict):
                    problem = "record is not a JSON object"
            if problem is None:
                rows.append({k: _text(v) for k, v in value.items()})
                numbers.append(line_no)
            else:
                shown = line.rstrip(b"\r\n")[: RAW_CHARS * 4].decode("utf-8", "replace")
                broken.append((line_no, shown[:RAW_CHARS], f"line {line_no}: {problem}"))
            if len(rows) + len(broken) >= batch_rows:
                yield _json_batch(rows, numbers, broken, first)
                first = line_no + 1
                rows, numbers, broken = [], [], []
    if rows or broken:
        yield _json_batch(rows, numbers, broken, first)


def _text(value: object) -> object:
    """A JSON value as text, or a list of texts: the two shapes validation reads (a nested
    list or object inside a list stays one element, as its JSON text)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [v if v is None or isinstance(v, str) else json.dumps(v) for v in value]
    return json.dumps(value)


def _json_batch(rows: list[dict[str, object]], numbers: list[int],
                broken: list[tuple[int, str, str]], first: int) -> RawBatch:
    columns = sorted({k for row in rows for k in row})
    data = {c: [row.get(c) for row in rows] for c in columns}
    frame = pl.DataFrame(data, strict=False, infer_schema_length=None) if rows else pl.DataFrame()
    # Record numbers are line numbers, which skip blank and broken lines.
    frame = frame.with_columns(pl.Series("_line_no", numbers, dtype=pl.Int64))
    return RawBatch(frame, first, tuple(broken))
