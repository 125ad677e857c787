"""Experiments and their exposures in the control store: defined by `reelrank experiments
create`, read by every API process (`api.experiments`) and by the results (`reelrank
experiments report`, the `experiments/results` asset).

Exposures are written by the API's history writer in the same transaction as the served
history, one row per item served under an experiment; they are kept until the experiment is
deleted, not pruned with the served history, so results can be computed after it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reelrank.control.connection import Connection, stamp
from reelrank.errors import ReelrankError
from reelrank.experiments import Experiment, variants_from_json, variants_json

__all__ = ["ExposureRow", "create", "exposures_of", "get", "list_all", "record_exposures",
           "restart", "stop"]

# (request_id, position, experiment, variant, team, user_id, item_id, served_at)
ExposureRow = tuple[str, int, str, str, str | None, object, object, str]

_COLUMNS = "name, kind, variants, share, salt, starts_at, ends_at, stopped_at, created_at"


def _experiment(row) -> Experiment:
    name, kind, variants, share, salt, starts, ends, stopped, created = row
    return Experiment(name, kind, variants_from_json(variants), salt, starts, ends, stopped,
                      created, float(share))


def create(con: Connection, experiment: Experiment, now: datetime) -> Experiment:
    """Add `experiment` (call inside a transaction); `ReelrankError` if the name exists."""
    if get(con, experiment.name) is not None:
        raise ReelrankError(f"experiment {experiment.name!r} exists already")
    con.execute(f"INSERT INTO experiments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [experiment.name, experiment.kind, variants_json(experiment),
                 experiment.share, experiment.salt, experiment.starts_at, experiment.ends_at,
                 None, stamp(now)])
    return get(con, experiment.name)


def get(con: Connection, name: str) -> Experiment | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM experiments WHERE name = ?", [name]).fetchone()
    return _experiment(row) if row else None


def list_all(con: Connection) -> list[Experiment]:
    return [_experiment(r) for r in con.execute(
        f"SELECT {_COLUMNS} FROM experiments ORDER BY created_at, name").fetchall()]


def stop(con: Connection, name: str, now: datetime) -> Experiment:
    """Stop `name` now (call inside a transaction); stopping twice keeps the first time."""
    if get(con, name) is None:
        raise ReelrankError(f"no experiment named {name!r}")
    con.execute("UPDATE experiments SET stopped_at = ? WHERE name = ? AND stopped_at IS NULL",
                [stamp(now), name])
    return get(con, name)


def record_exposures(con: Connection, rows: Sequence[ExposureRow]) -> int:
    before = con.total_changes
    con.executemany(
        "INSERT INTO experiment_exposures (request_id, position, experiment, variant, team, "
        "user_id, item_id, served_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (request_id, position) DO NOTHING", rows)
    return con.total_changes - before


def exposures_of(con: Connection, name: str) -> list[tuple]:
    """(request_id, position, variant, team, user_id, item_id, served_at) of `name`."""
    return [tuple(r) for r in con.execute(
        "SELECT request_id, position, variant, team, user_id, item_id, served_at "
        "FROM experiment_exposures WHERE experiment = ? ORDER BY served_at, request_id, "
        "position", [name]).fetchall()]


def restart(con: Connection, name: str, starts_at: str) -> Experiment:
    """Run `name` from `starts_at` with no end (call inside a transaction): for a sandbox
    copy of the store whose clock is not the wall clock (the session simulator)."""
    if get(con, name) is None:
        raise ReelrankError(f"no experiment named {name!r}")
    con.execute("UPDATE experiments SET starts_at = ?, ends_at = NULL, stopped_at = NULL "
                "WHERE name = ?", [starts_at, name])
    return get(con, name)
