"""CSV in bounded batches, where a ragged or misquoted line costs only itself.

Each record is numbered by the physical line it starts on (the header is line 1, and a quoted
field's line breaks count), and every column is text: a CSV carries no types, and validation
decides them per contract field (so an id column of digits can still be a string-id column).
Bytes that are not UTF-8 become U+FFFD, which validation names per field.

Lines go one of three ways, cheapest first:

- no quote character (nearly every line of a log): its commas are counted, and a line with the
  wrong count is ragged; the rest are parsed together by Polars;
- an even number of quotes: checked in bulk against the strict shape (each field either
  unquoted without quotes, or wholly quoted with quotes doubled inside) and its fields counted
  outside quotes; lines of that shape join the Polars parse, others go to Python's `csv`
  module on their own, which is lenient about a quote inside an unquoted field (`5 "inch"`);
- an odd number of quotes opens a field that holds line breaks, or is misquoted: `csv`
  (strict) reads the record, taking in the following lines it needs. If that fails, only the
  first line is set aside and reading resumes on the next one, so a stray quote cannot
  swallow the rest of the file; and a record whose quoted field takes in a line that reads as
  a whole record of its own is taken to be a quote left open, not a caption with breaks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import compress, islice
from pathlib import Path

import polars as pl

from reelrank.errors import ContractError

__all__ = ["RAW_CHARS", "BrokenLine", "read_csv_batches"]

# Lines read ahead at a time (at most one batch); how many lines one quoted record may span
# before its first line counts as misquoted (a caption rarely holds more than a few breaks).
_CHUNK_LINES = 65_536
_MAX_RECORD_LINES = 200
# Characters of a line kept in quarantine when the line cannot be read as a record.
RAW_CHARS = 4_000
# The strict shape of a line whose quotes are all balanced (no CR: Polars could end a row there).
_QUOTED = r'"(?:[^"\r]|"")*"'
_FIELD = rf'(?:{_QUOTED}|[^",\r]*)'
_STRICT_LINE = rf"^{_FIELD}(?:,{_FIELD})*$"

BrokenLine = tuple[int, str, str]  # (line number, the line as text, reason naming the line)


def read_csv_batches(path: Path, batch_rows: int
                     ) -> Iterator[tuple[pl.DataFrame, tuple[BrokenLine, ...]]]:
    """(records with their `_line_no`, broken lines) per batch of about `batch_rows`."""
    with path.open("rb") as handle:
        lines = enumerate(handle, start=1)
        batch = _Batch(_header(path, lines))
        commas, records, at = batch.commas, 0, 0
        chunk: list[tuple[int, bytes]] = []
        while True:
            if at >= len(chunk):
                chunk, at = list(islice(lines, min(_CHUNK_LINES, batch_rows))), 0
                if not chunk:
                    break
            line_no, line = chunk[at]
            at += 1
            body = line.rstrip(b"\r\n")
            if not body:
                continue  # a blank line holds no record
            # The hot path: a few byte operations per line.
            if b'"' not in body:
                if body.count(b",") == commas:
                    batch.plain_lines.append(body)
                    batch.plain_nos.append(line_no)
                else:
                    batch.ragged(line_no, body)
            elif body.count(b'"') % 2 == 0:
                batch.balanced_lines.append(body)
                batch.balanced_nos.append(line_no)
            else:
                at += batch.open_quote(line_no, line, chunk, at, lines)
            records += 1
            if records >= batch_rows:
                yield batch.take()
                records = 0
        if records or not batch.yielded:
            yield batch.take()


def _header(path: Path, lines: Iterator[tuple[int, bytes]]) -> list[str]:
    first = next(lines, None)
    if first is None:
        raise ContractError(f"{path}: not a readable CSV file (it is empty: no header line)")
    text = first[1].decode("utf-8", "replace").removeprefix("\ufeff")
    try:
        header = next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        raise ContractError(f"{path}: line 1: the header is not readable CSV ({exc})") from exc
    if not header or header == [""]:
        raise ContractError(f"{path}: line 1: the header is empty")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ContractError(f"{path}: line 1: the header repeats column(s) "
                            f"{', '.join(repeated)}")
    return header


def _misquote(error: str, line_no: int, lines: int) -> str:
    """What `csv` found wrong with the record starting at `line_no`, after `lines` lines."""
    if "unexpected end of data" in error:
        if lines >= _MAX_RECORD_LINES:
            return f"misquoted: a quote opened here is not closed within {lines} lines"
        if lines == 1:
            return "misquoted: a quote opened here is not closed on this line"
        return "misquoted: a quote opened here is never closed"
    if lines > 1:
        return ("misquoted: a quote opened here is not closed on this line (it runs into "
                f"line {line_no + lines - 1})")
    if "expected after" in error:
        return "misquoted: text follows a closing quote"
    return f"misquoted ({error})"


class _Batch:
    """One batch's records as they are split: lines for Polars (plain, and balanced ones
    still to be checked), records `csv` parsed, and lines that are no record."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.commas = len(header) - 1
        self.schema = {c: pl.String for c in header}
        self.yielded = False
        self._reset()

    def _reset(self) -> None:
        self.plain_lines: list[bytes] = []
        self.plain_nos: list[int] = []
        self.balanced_lines: list[bytes] = []
        self.balanced_nos: list[int] = []
        self.parsed_rows: list[list[str | None]] = []
        self.parsed_nos: list[int] = []
        self.broken: list[BrokenLine] = []

    def ragged(self, line_no: int, body: bytes) -> None:
        found = body.count(b",") + 1
        self._broken(line_no, body, f"expected {self.commas + 1} fields, found {found}")

    def open_quote(self, line_no: int, line: bytes, chunk: list[tuple[int, bytes]], at: int,
                   more: Iterator[tuple[int, bytes]]) -> int:
        """Parse the record starting at `line_no` (`chunk[at - 1]`); returns how many further
        lines it took (0 when the line is set aside, so reading resumes right after it).
        Lines it reads ahead are appended to `chunk`, where the caller reads them next."""
        body = line.rstrip(b"\r\n")
        taken = [line]

        def feed() -> Iterator[str]:
            yield line.decode("utf-8", "replace")
            while len(taken) < _MAX_RECORD_LINES:
                if at - 1 + len(taken) >= len(chunk):
                    following = next(more, None)
                    if following is None:
                        return
                    chunk.append(following)
                taken.append(chunk[at - 1 + len(taken)][1])
                yield taken[-1].decode("utf-8", "replace")

        try:
            fields = next(csv.reader(feed(), strict=True))
        except csv.Error as exc:
            self._broken(line_no, body, _misquote(str(exc), line_no, len(taken)))
            return 0
        if len(taken) > 1 and self.commas:
            swallowed = next((line_no + k for k, inner in enumerate(taken[1:-1], start=1)
                              if b'"' not in inner and inner.count(b",") == self.commas), None)
            if swallowed is not None:
                self._broken(line_no, body, "misquoted: a quote opened here takes in "
                             f"line {swallowed}, which reads as a record of its own")
                return 0
        return self._record(line_no, body, fields, len(taken))

    def _one_line(self, line_no: int, body: bytes) -> None:
        """A balanced line not of the strict shape (or not parsed by Polars): `csv` decides."""
        try:
            fields = next(csv.reader((body.decode("utf-8", "replace"),), strict=True))
        except csv.Error as exc:
            self._broken(line_no, body, _misquote(str(exc), line_no, 1))
            return
        self._record(line_no, body, fields, 1)

    def _record(self, line_no: int, body: bytes, fields: list[str], lines: int) -> int:
        """Keep `fields`, read from `lines` lines from `line_no` on, if they are a whole
        record; returns the lines it took beyond the first (0 when set aside)."""
        width = self.commas + 1
        if len(fields) != width:
            self._broken(line_no, body, f"expected {width} fields, found {len(fields)}"
                         if lines == 1 else
                         f"misquoted: a quote opened here runs to line {line_no + lines - 1} "
                         f"and leaves {len(fields)} fields, expected {width}")
            return 0
        # An empty field is null, as Polars reads it.
        self.parsed_rows.append([f if f != "" else None for f in fields])
        self.parsed_nos.append(line_no)
        return lines - 1

    def _broken(self, line_no: int, body: bytes, problem: str) -> None:
        text = body[: RAW_CHARS * 4].decode("utf-8", "replace")[:RAW_CHARS]
        self.broken.append((line_no, text, f"line {line_no}: {problem}"))

    def _strict(self) -> list[bool]:
        """Which balanced lines have the strict shape and the right number of fields."""
        if not self.balanced_lines:
            return []
        text = pl.Series(b"\n".join(self.balanced_lines).decode("utf-8", "replace").split("\n"))
        fields = text.str.replace_all(_QUOTED, "").str.count_matches(",", literal=True)
        return (text.str.contains(_STRICT_LINE) & (fields == self.commas)).to_list()

    def _polars(self, lines: list[bytes], numbers: list[int]) -> pl.DataFrame | None:
        """`lines` parsed in one call; None if Polars saw another number of rows than lines
        (never expected for lines checked as above; their records are then read by `csv`)."""
        try:
            frame = pl.read_csv(io.BytesIO(b"\n".join(lines)), has_header=False,
                                schema=self.schema, encoding="utf8-lossy")
        except pl.exceptions.PolarsError:
            return None
        if frame.height != len(numbers):
            return None
        return frame.with_columns(pl.Series("_line_no", numbers, pl.Int64))

    def take(self) -> tuple[pl.DataFrame, tuple[BrokenLine, ...]]:
        strict = self._strict()
        for ok, line_no, body in zip(strict, self.balanced_nos, self.balanced_lines):
            if not ok:
                self._one_line(line_no, body)
        lines = [*self.plain_lines, *compress(self.balanced_lines, strict)]
        numbers = [*self.plain_nos, *compress(self.balanced_nos, strict)]
        frames = []
        if lines:
            parsed = self._polars(lines, numbers)
            if parsed is None:
                for line_no, body in zip(numbers, lines):
                    self._one_line(line_no, body)
            else:
                frames.append(parsed)
        if self.parsed_rows:
            frames.append(pl.DataFrame(self.parsed_rows, schema=self.schema, orient="row")
                          .with_columns(pl.Series("_line_no", self.parsed_nos, pl.Int64)))
        frame = (pl.concat(frames) if frames
                 else pl.DataFrame(schema={**self.schema, "_line_no": pl.Int64}))
        if not frame["_line_no"].is_sorted():
            frame = frame.sort("_line_no")
        broken = tuple(sorted(self.broken))
        self.yielded = True
        self._reset()
        return frame, broken
