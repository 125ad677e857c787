"""Versioned schema migrations, shared by both stores.

Each store keeps a `schema_migrations` table; on open, every migration whose version is above
the recorded one runs in its own transaction, in order. A store written by a newer reelrank
(a version we do not know) is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from reelrank.errors import ReelrankError

__all__ = ["Migration", "apply_migrations", "current_version"]


@dataclass(frozen=True)
class Migration:
    """One schema step: `statements` run in order inside one transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


class _Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[object] = ..., /) -> object: ...


def _check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must run 1..n without gaps, got {versions}")


def current_version(con: _Connection) -> int:
    """The highest applied migration version (0 for a new store)."""
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0]  # type: ignore[attr-defined]
    return int(row[0])


def apply_migrations(con: _Connection, migrations: Sequence[Migration], store: str) -> int:
    """Bring `con` up to the newest migration; returns the number applied."""
    _check_sequence(migrations)
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    have = current_version(con)
    if have > len(migrations):
        raise ReelrankError(
            f"the {store} is at schema version {have}, newer than this reelrank knows "
            f"({len(migrations)}); upgrade reelrank instead of opening it with an old one"
        )
    applied = 0
    for migration in migrations[have:]:
        con.execute("BEGIN")
        try:
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.description, datetime.now(UTC).isoformat()],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        applied += 1
    return applied
