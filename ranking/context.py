"""What every pipeline component receives: the query (who, as of when) and the context
(the warehouse connection, settings, and a seeded random generator)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from reelrank.settings import Settings

__all__ = ["CANDIDATE_SCHEMA", "RankContext", "SourceResult"]

# Every source returns exactly these columns.
CANDIDATE_SCHEMA = ("user_id", "item_id", "source", "source_score")


@dataclass(frozen=True)
class RankContext:
    """`as_of`: the feature date (features use days before it); `users`: who to rank."""

    con: duckdb.DuckDBPyConnection
    settings: Settings
    as_of: date
    users: pl.Series

    @property
    def day(self) -> str:
        """`as_of` as a SQL date literal (from a `date`, never from user text)."""
        return f"DATE '{self.as_of.isoformat()}'"

    def query(self, sql: str) -> pl.DataFrame:
        """Run `sql` with the users to rank visible as the table `_users(user_id)`."""
        self.con.register("_users", pl.DataFrame({"user_id": self.users}))
        try:
            return self.con.sql(sql).pl()
        finally:
            self.con.unregister("_users")


@dataclass(frozen=True)
class SourceResult:
    """A source's candidates, or the reason it failed open (then `frame` is empty)."""

    name: str
    frame: pl.DataFrame
    failed: str | None = None
