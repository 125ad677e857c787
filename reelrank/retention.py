"""What the home keeps of its inputs once they are ingested, and for how long.

An ingested landing batch moves to `landing/.done/<when>-<name>/` (`retire_batch`), but not
as it arrived: its raw IP addresses are replaced (`IP_REDACTED`, every file, every column,
wherever an address sits; the warehouse keeps only the place an address resolved to) and
its chat text is withheld (`WITHHELD`): the warehouse keeps the chats their users allow, and
a copy here would outlive an opt-out. What is left (ids, times, counts) is kept for audit,
`landing_done_keep_days` (`prune_done`); quarantined records `quarantine_keep_days`
(`prune_quarantine`); drained inbox rows `inbox_keep_days` (`reelrank.inbox`).

Files are rewritten in place of the originals (a new file renamed over the old one, so a
hard link elsewhere, such as a synthetic world's own copy, keeps its bytes: see
`cli.runner.seed_default_world`, which moves those files instead of linking them).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from reelrank.ingest.readers import SUFFIXES, find_inputs
from reelrank.ingest.redact import WITHHELD, redact_ips

__all__ = ["prune_done", "prune_quarantine", "retire_batch", "scrub_batch", "scrub_retired"]

_DONE = ".done"
_SCRUBBED = ".scrubbed"  # in a retired batch: its files are scrubbed
_STAMP = "%Y%m%dT%H%M%S"
_TEXT_SUFFIXES = (*SUFFIXES, ".json", ".txt")
# Private text, by table: withheld from done batches whoever wrote it.
_PRIVATE = {"chats": "text"}
# A cheap first look for something that may hold an address; `redact_ips` decides.
_MAYBE_IP = r"[0-9]\.[0-9]+\.[0-9]+\.[0-9]|:.*:"


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.scrub")
    tmp.write_bytes(data)
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


def _scrub_parquet(path: Path, private: str | None) -> None:
    frame = pl.read_parquet(path)
    if "ip" in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("ip"))
    for name, dtype in frame.schema.items():
        if dtype != pl.String or name == private:
            continue
        column = frame[name]
        maybe = column.str.contains(_MAYBE_IP).fill_null(False)
        if maybe.any():  # only those values go through Python
            values = column.to_list()
            for n in maybe.arg_true().to_list():
                values[n] = redact_ips(values[n])
            frame = frame.with_columns(pl.Series(name, values, dtype=pl.String))
    if private is not None and private in frame.columns:
        frame = frame.with_columns(pl.lit(WITHHELD).alias(private))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    _replace(path, buffer.getvalue())


def _withhold_json_line(line: str, private: str) -> str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return json.dumps({private: WITHHELD})
    if not isinstance(value, dict):
        return json.dumps({private: WITHHELD})
    if private in value:
        value[private] = WITHHELD
    return json.dumps(value, separators=(",", ":"))


def _withhold_csv(text: str, private: str) -> str:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or private not in rows[0]:
        return text
    at = rows[0].index(private)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        # A ragged row has no reliable text field: all of it is withheld.
        writer.writerow([WITHHELD if n == at or len(row) != len(rows[0]) else v
                         for n, v in enumerate(row)])
    return out.getvalue()


def _scrub_text(path: Path, private: str | None) -> None:
    text = path.read_bytes().decode("utf-8", "replace")
    if private is not None:
        if path.suffix == ".csv":
            try:
                text = _withhold_csv(text, private)
            except csv.Error:
                text = ""  # unreadable as CSV: nothing in it can be told apart from text
        elif path.suffix in (".jsonl", ".ndjson"):
            text = "".join(_withhold_json_line(line, private) + "\n"
                           for line in text.splitlines() if line.strip())
    redacted = redact_ips(text)
    _replace(path, redacted.encode("utf-8"))


def scrub_batch(batch: Path) -> int:
    """Remove raw IPs from every file of `batch` and withhold its chat text; returns the
    files rewritten."""
    private_files = {p: name for table, name in _PRIVATE.items()
                     for p in find_inputs(batch, table)}
    done = 0
    for path in sorted(p for p in batch.rglob("*") if p.is_file()):
        private = private_files.get(path)
        if path.suffix == ".parquet":
            _scrub_parquet(path, private)
        elif path.suffix in _TEXT_SUFFIXES:
            _scrub_text(path, private)
        else:
            continue
        done += 1
    return done


def retire_batch(landing: Path, batch: Path, *, now: datetime) -> Path:
    """Scrub an ingested batch and move it to `landing/.done/`; its new path."""
    scrub_batch(batch)
    (batch / _SCRUBBED).touch()
    done = landing / _DONE
    done.mkdir(exist_ok=True)
    target = done / f"{now.astimezone(UTC).strftime(_STAMP)}-{batch.name}"
    shutil.move(str(batch), str(target))
    return target


def scrub_retired(landing: Path) -> list[str]:
    """Scrub retired batches that were moved to `.done/` unscrubbed (by a reelrank from
    before scrubbing, or a crash between the move and the mark); their names."""
    done = landing / _DONE
    if not done.is_dir():
        return []
    fixed = []
    for path in sorted(p for p in done.iterdir() if p.is_dir()):
        if not (path / _SCRUBBED).exists():
            scrub_batch(path)
            (path / _SCRUBBED).touch()
            fixed.append(path.name)
    return fixed


def _retired_at(path: Path) -> datetime:
    match = re.match(r"^(\d{8}T\d{6})-", path.name)
    if match:
        return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def prune_done(landing: Path, *, now: datetime, keep_days: float) -> list[str]:
    """Delete retired batches older than `keep_days`; their names."""
    done = landing / _DONE
    if not done.is_dir():
        return []
    cutoff = now - timedelta(days=keep_days)
    gone = []
    for path in sorted(done.iterdir()):
        if path.is_dir() and _retired_at(path) < cutoff:
            shutil.rmtree(path)
            gone.append(path.name)
    return gone


def prune_quarantine(con: duckdb.DuckDBPyConnection, *, now: datetime, keep_days: float
                     ) -> int:
    """Delete quarantined records older than `keep_days`; how many."""
    (n,) = con.execute("SELECT count(*) FROM quarantine WHERE quarantined_at < ?",
                       [now - timedelta(days=keep_days)]).fetchall()[0]
    if n:
        con.execute("DELETE FROM quarantine WHERE quarantined_at < ?",
                    [now - timedelta(days=keep_days)])
    return int(n)
