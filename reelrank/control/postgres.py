"""The control store on PostgreSQL (`REELRANK_CONTROL_URL=postgresql://...`), for API servers
and workers on several hosts sharing one live state.

`PgConnection` gives a psycopg connection the shape of `connection.Connection`, so every
module of `reelrank.control` runs unchanged on either backend. What it translates, and
nothing else:

- placeholders: `?` becomes `%s` (and a literal `%` is doubled), outside quoted text;
- `json_each(col) WHERE json_each.value = ?` (a generation's cameo list) becomes
  `jsonb_array_elements_text(col::jsonb)`;
- `json_remove(col, '$.key')` (dropping a drained event's IP) becomes `col::jsonb - 'key'`;
- `BEGIN IMMEDIATE` (a write transaction) becomes `BEGIN` plus one transaction-scoped
  advisory lock for the whole store: exactly SQLite's one writer at a time, so every
  read-then-write the modules do (the scroll-limit claim, a charge against a balance, a
  lease) stays true at the write across any number of processes and hosts, with no
  serialization failures to retry; `BEGIN DEFERRED` (a read transaction) becomes a
  REPEATABLE READ READ ONLY one, one moment of the store like SQLite's; a plain `BEGIN` (a
  migration's) stays one;
- `PRAGMA ...` statements are SQLite's tuning and are skipped.

Ids. SQLite keeps an id with the type it came in with (the home's ids are integers or text,
`contracts.IdDomain`); a PostgreSQL column has one type, so id columns are TEXT. Parameters
that are Python ints are sent as text of unknown type, which PostgreSQL casts to the column
compared or written (an id column: text; a count: integer). Values read back from an id
column (by name: `user_id`, `item_id`, `owner_id`, ...) that are a canonical integer come
back as ints, as they went in; aggregates come back as ints or floats, booleans as 0 or 1.
The one case this cannot tell apart: a home with text ids that are all digits (`"0042"` is
fine, `"42"` comes back as 42). Where a query orders by an id column, text ids sort as text
("10" before "2"); nothing served depends on that order. Text with a NUL character is
refused (`ContractError`): PostgreSQL cannot store it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq

from reelrank.control.schema_pg import WRITE_LOCK_KEY
from reelrank.errors import ContractError

__all__ = ["ID_COLUMNS", "WRITE_LOCK_KEY", "PgConnection", "connect_postgres", "translate"]

# The columns that hold a user's, an item's or an event's id (see the module docstring).
ID_COLUMNS = frozenset({
    "user_id", "owner_id", "grantee_id", "creator_id", "child_id", "guardian_id",
    "blocked_id", "subject_id", "requester_id", "item_id", "remix_of",
})  # not event_id: the inbox keys an event id by its text (`inbox.accept_events`)

# One key for the store's write lock (`pg_advisory_xact_lock`): any 64-bit constant that no
# other application sharing the database uses; this one is b"reelrank" as an integer (the
# schema's grant trigger takes it too).

_JSON_REMOVE = re.compile(r"json_remove\((\w+), '\$\.(\w+)'\)", re.IGNORECASE)
_JSON_EACH = re.compile(
    r"json_each\(([\w.]+)\)\s+WHERE\s+json_each\.value\s*=\s*\?", re.IGNORECASE)
_DML = ("INSERT", "UPDATE", "DELETE")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's spelling of one statement as PostgreSQL's (the module docstring's list)."""
    sql = _JSON_REMOVE.sub(r"(\1::jsonb - '\2')::text", sql)
    sql = _JSON_EACH.sub(
        r"jsonb_array_elements_text(\1::jsonb) AS cameo(value) WHERE cameo.value = ?", sql)
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        if ch == "%":
            out.append("%%")
            continue
        out.append(ch)
    return "".join(out)


def _param(value: object) -> object:
    if isinstance(value, str) and ("\x00" in value or "\\u0000" in value):
        # PostgreSQL text holds no NUL character (nor jsonb its escape): a clear refusal
        # (422 over HTTP) instead of a server error from the driver.
        raise ContractError("text with a NUL character cannot be stored in the PostgreSQL "
                            "control store")
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return value


def _value(name: str, value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str) and name in ID_COLUMNS and _canonical_int(value):
        return int(value)
    return value


def _canonical_int(text: str) -> bool:
    body = text.removeprefix("-")
    return body.isascii() and body.isdigit() and (body == "0" or not body.startswith("0"))


class _Cursor:
    """The part of a DB-API cursor the control modules use, with values decoded."""

    def __init__(self, cursor: psycopg.Cursor[Any] | None, rowcount: int) -> None:
        self._cursor = cursor
        self.rowcount = rowcount
        self.description = None if cursor is None else cursor.description
        self._names = [d.name for d in self.description or ()]

    def _row(self, row: Sequence[object]) -> tuple[object, ...]:
        return tuple(_value(n, v) for n, v in zip(self._names, row, strict=True))

    def fetchone(self) -> tuple[object, ...] | None:
        if self._cursor is None or self.description is None:
            return None
        row = self._cursor.fetchone()
        return None if row is None else self._row(row)

    def fetchall(self) -> list[tuple[object, ...]]:
        if self._cursor is None or self.description is None:
            return []
        return [self._row(r) for r in self._cursor.fetchall()]

    def __iter__(self):
        return iter(self.fetchall())


class PgConnection:
    """A control-store connection on PostgreSQL, in autocommit mode like the SQLite one."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.total_changes = 0  # rows inserted, updated or deleted, as sqlite3 counts them
        self._trace: Callable[[str], object] | None = None

    def set_trace_callback(self, callback: Callable[[str], object] | None) -> None:
        """Call `callback` with each statement as sent (as sqlite3's does), None to stop."""
        self._trace = callback

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status not in (pq.TransactionStatus.IDLE,
                                                        pq.TransactionStatus.UNKNOWN)

    @property
    def broken(self) -> bool:
        """The server went away (a restart, a failover, a dropped link): open a new one."""
        return self.raw.broken or self.raw.closed

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> _Cursor:
        head = sql.lstrip()[:16].upper()
        if head.startswith("PRAGMA"):
            return _Cursor(None, -1)
        if head.startswith("BEGIN IMMEDIATE"):
            self.raw.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            try:
                self.raw.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK_KEY])
            except BaseException:  # no lock (a lock_timeout, a cancel): no transaction either
                self.raw.execute("ROLLBACK")
                raise
            return _Cursor(None, -1)
        if head.startswith("BEGIN DEFERRED"):
            self.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return _Cursor(None, -1)
        if self._trace is not None:
            self._trace(translate(sql))
        cursor = self.raw.execute(translate(sql), [_param(p) for p in parameters])
        if head.startswith(_DML) and cursor.rowcount > 0:
            self.total_changes += cursor.rowcount
        return _Cursor(cursor, cursor.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]], /) -> _Cursor:
        rows = [[_param(p) for p in row] for row in parameters]
        cursor = self.raw.cursor()
        if rows:
            cursor.executemany(translate(sql), rows)
        changed = max(cursor.rowcount, 0) if rows else 0
        if sql.lstrip()[:16].upper().startswith(_DML):
            self.total_changes += changed
        return _Cursor(None, changed)

    def close(self) -> None:
        self.raw.close()


def connect_postgres(url: str) -> PgConnection:
    """Open a connection to the PostgreSQL control store at `url` (a libpq URL or
    key=value string); the caller migrates it (`connection.connect` does)."""
    return PgConnection(psycopg.connect(url, autocommit=True, connect_timeout=30))
