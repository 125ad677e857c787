"""Load validated records into their store, idempotently, quarantining what fails.

Per batch: type the records (`coerce`), set aside every record about an erased user (not
loaded, not quarantined: counted as refused), settle duplicate keys inside the batch, check
that every referenced user and item exists, then write good records and quarantine rows in
one transaction. A record is identified by its contract's `identity` (an event by user and
event id). Immutable logs (events, chats) ignore a record they already hold, so re-ingesting
a file is a no-op, and quarantine one that reuses a held identity with other content (it
would otherwise be dropped without a word); other warehouse tables take the newer record;
control-store state only takes a record newer than what it holds, so re-ingesting an old
file never undoes a live change such as a cameo revocation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import polars as pl

from reelrank.contracts import IdDomain, Kind, TableContract
from reelrank.control.connection import Connection
from reelrank.control.erasure import all_erased
from reelrank.control.imports import upsert
from reelrank.control.user_settings import chat_opted_in
from reelrank.geo import GeoResolver
from reelrank.ingest.checks import (
    NO,
    REASON,
    about_erased,
    dedupe_in_batch,
    held_otherwise,
    reference_failures,
)
from reelrank.ingest.coerce import coerce, infer_id_type
from reelrank.ingest.readers import RawBatch
from reelrank.ingest.redact import WITHHELD, redact_ips, withheld_record
from reelrank.ingest.schema import ensure_table, load_id_types, record_id_types

__all__ = ["BatchResult", "load_batch"]

_REASON, _NO = REASON, NO
# table -> the field quarantine keeps only for users with chat personalization on
_PRIVATE_TEXT: Mapping[str, str] = {"chats": "text"}


@dataclass
class BatchResult:
    read: int = 0
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: BatchResult) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.refused += other.refused
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n


def _settle_id_types(con: duckdb.DuckDBPyConnection, contract: TableContract,
                     raw: pl.DataFrame) -> dict[IdDomain, str]:
    """Known id types, plus the types of domains this batch is the first to use."""
    id_types = load_id_types(con)
    new: dict[IdDomain, str] = {}
    for f in contract.fields:
        if f.domain is None or f.domain in id_types or f.domain in new:
            continue
        if f.kind is Kind.ID and f.name in raw.columns:
            new[f.domain] = infer_id_type(raw[f.name])
    if new:
        record_id_types(con, new)
        id_types.update(new)
    # A domain nothing has defined yet (e.g. user ids first seen inside a list) defaults
    # to text, which represents any id without loss.
    for f in contract.fields:
        if f.domain is not None and f.domain not in id_types:
            id_types[f.domain] = "VARCHAR"
            record_id_types(con, {f.domain: "VARCHAR"})
    return id_types


def _record_json(raw: pl.DataFrame, first_record_no: int, numbers: pl.Series,
                 withheld: tuple[str, pl.Series] | None = None) -> pl.DataFrame:
    """The records `numbers` as JSON, as they arrived; `withheld` (field, record numbers)
    replaces that field's value of those records by `WITHHELD`."""
    base = raw.rename({"_line_no": _NO}) if "_line_no" in raw.columns else (
        raw.with_row_index(_NO, offset=first_record_no))
    base = base.filter(pl.col(_NO).is_in(numbers.implode()))
    shown = base.with_columns(
        pl.col(c).bin.encode("hex") for c, t in base.schema.items() if t == pl.Binary)
    if withheld is not None and withheld[0] in shown.columns:
        name, hidden = withheld
        shown = shown.with_columns(
            pl.when(pl.col(_NO).is_in(hidden.implode())).then(pl.lit(WITHHELD))
            .otherwise(pl.col(name).cast(pl.String)).alias(name))
    cols = [c for c in shown.columns if c != _NO]
    return shown.select(pl.col(_NO).cast(pl.Int64),
                        pl.struct(cols).struct.json_encode().alias("record"))


def load_batch(
    con: duckdb.DuckDBPyConnection,
    control: Connection,
    contract: TableContract,
    batch: RawBatch,
    *,
    ingest_id: int,
    source: str,
    now: datetime,
    skew_s: int,
    geo: GeoResolver,
) -> BatchResult:
    """Validate and load one batch. The caller holds the write lock and a transaction."""
    raw = batch.frame
    result = BatchResult(read=raw.height + len(batch.broken))
    quarantine: list[pl.DataFrame] = []
    if batch.broken:
        # A line that could not be split into fields gives no user to check consent for:
        # private text is withheld whole (IP addresses are redacted below, for every row).
        private = contract.name in _PRIVATE_TEXT
        quarantine.append(pl.DataFrame(
            [(n, withheld_record(n, reason) if private else json.dumps({"line": text}), reason)
             for n, text, reason in batch.broken],
            schema={_NO: pl.Int64, "record": pl.String, "reason": pl.String}, orient="row"))
    if raw.height:
        id_types = _settle_id_types(con, contract, raw)
        if contract.store == "warehouse":
            ensure_table(con, contract, id_types)
        typed = coerce(raw, contract, id_types, now=now, skew_s=skew_s, source=source,
                       first_record_no=batch.first_record_no).frame
        erased = all_erased(control)
        if erased:
            # Nothing about an erased user is loaded again, nor kept in quarantine.
            gone = about_erased(typed, contract, erased)
            result.refused += int(gone.sum())
            typed = typed.filter(~gone)
        typed, repeats = dedupe_in_batch(typed, contract)
        result.unchanged += repeats
        refs = reference_failures(con, typed, contract)
        if contract.immutable and contract.store == "warehouse":
            refs = pl.concat([refs, held_otherwise(con, typed.join(
                refs.select(_NO), on=_NO, how="anti"), contract)])
        if refs.height:
            typed = typed.join(refs, on=_NO, how="left").with_columns(
                pl.coalesce(_REASON, "reason").alias(_REASON)).drop("reason")
        bad = typed.filter(pl.col(_REASON).is_not_null())
        good = typed.filter(pl.col(_REASON).is_null()).drop(_REASON, _NO)
        if contract.name == "chats":
            good, refused = _consented_chats(control, good)
            result.refused += refused
        if bad.height:
            records = _record_json(raw, batch.first_record_no, bad[_NO],
                                   _withheld(control, contract, bad))
            quarantine.append(bad.select(_NO, pl.col(_REASON).alias("reason"))
                              .join(records, on=_NO, how="left")
                              .select(_NO, "record", "reason"))
        loaded = _write_good(con, control, contract, good, geo)
        result.loaded += loaded
        result.unchanged += good.height - loaded
    if quarantine:
        rows = pl.concat(quarantine).with_columns(
            pl.lit(ingest_id).alias("ingest_id"), pl.lit(source).alias("source"),
            pl.lit(contract.name).alias("table_name"), pl.lit(now).alias("quarantined_at"))
        # Addresses are resolved and dropped at ingestion; quarantine keeps none either,
        # wherever one sits (the IP field, a misaligned field, a column no contract names,
        # a reason quoting a value), in any table.
        rows = rows.with_columns(
            pl.col("record", "reason").map_elements(redact_ips, return_dtype=pl.String))
        con.register("_q", rows)
        con.execute(
            "INSERT INTO quarantine SELECT ingest_id, source, table_name, _record_no, "
            "record, reason, quarantined_at FROM _q")
        con.unregister("_q")
        result.quarantined = rows.height
        # Counted by problem: "line 17: expected 7 fields, found 9" and the same on line 40
        # are one reason, not two.
        problems = pl.col("reason").str.replace(r"^line [0-9]+: ", "")
        for reason, n in rows.group_by(problems).len().iter_rows():
            result.reasons[reason] = n
    return result


def _opted_in(control: Connection, records: pl.DataFrame) -> pl.Expr:
    """Whether each record's `user_id` has chat personalization on (false when unknown)."""
    users = pl.Series(chat_opted_in(control), dtype=records.schema["user_id"], strict=False)
    return pl.col("user_id").is_in(users.implode()).fill_null(False)


def _consented_chats(control: Connection, chats: pl.DataFrame
                     ) -> tuple[pl.DataFrame, int]:
    """Only chats of users with chat personalization on are kept. The others are neither
    loaded nor quarantined (quarantine would keep the text): they are counted, not stored."""
    kept = chats.filter(_opted_in(control, chats))
    return kept, chats.height - kept.height


def _withheld(control: Connection, contract: TableContract, bad: pl.DataFrame
              ) -> tuple[str, pl.Series] | None:
    """(field, record numbers) of quarantined records whose private text must not be kept:
    a bad chat is quarantined with its text only if its user is opted in."""
    field = _PRIVATE_TEXT.get(contract.name)
    if field is None:
        return None
    return field, bad.filter(~_opted_in(control, bad))[_NO]


def _write_good(con: duckdb.DuckDBPyConnection, control: Connection,
                contract: TableContract, good: pl.DataFrame, geo: GeoResolver) -> int:
    if good.is_empty():
        return 0
    if contract.store == "control":
        return _write_control(control, contract, good)
    if "ip" in good.columns:
        # The address is resolved here and dropped: it is never stored.
        good = pl.concat([good.drop("ip"), geo.locate(good["ip"])], how="horizontal")
    con.register("_good", good)
    try:
        key = " AND ".join(f"t.{k} = g.{k}" for k in contract.identity)
        before = con.execute(f"SELECT count(*) FROM {contract.name}").fetchall()[0][0]
        if contract.immutable:
            con.execute(
                f"INSERT INTO {contract.name} SELECT g.* FROM _good g "
                f"ANTI JOIN {contract.name} t ON {key}")
            if contract.name == "events":
                # Daily rollups downstream recompute exactly the days that changed.
                con.execute("INSERT INTO dirty_days SELECT DISTINCT ts::DATE FROM _good "
                            "ON CONFLICT DO NOTHING")
        else:
            # Only records that differ from what is stored count as loaded.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _changed AS "
                f"SELECT * FROM _good EXCEPT SELECT * FROM {contract.name}")
            changed = con.execute("SELECT count(*) FROM _changed").fetchall()[0][0]
            con.execute(
                f"DELETE FROM {contract.name} t USING _changed g WHERE {key}")
            con.execute(f"INSERT INTO {contract.name} SELECT * FROM _changed")
            con.execute("DROP TABLE _changed")
            return int(changed)
        after = con.execute(f"SELECT count(*) FROM {contract.name}").fetchall()[0][0]
        return int(after - before)
    finally:
        con.unregister("_good")


_ISO = "%Y-%m-%dT%H:%M:%S%.6fZ"


def _write_control(control: Connection, contract: TableContract, good: pl.DataFrame
                   ) -> int:
    text = good.with_columns(
        pl.col(c).dt.strftime(_ISO) for c, t in good.schema.items() if isinstance(t, pl.Datetime))
    text = text.with_columns(pl.col(c).cast(pl.Int8) for c, t in good.schema.items()
                             if t == pl.Boolean)
    if contract.name == "cameo_grants":
        text = text.with_columns(
            pl.coalesce("revoked_at", "granted_at").alias("updated_at"))
    elif contract.name == "guardians":
        text = text.with_columns(pl.col("linked_at").alias("updated_at"))
    return upsert(control, contract.name, text.rows())
