"""Accounts the control store knows: the live half of "is this a user of the home?".

The other half is the serving snapshot's users (the warehouse's, as of the last nightly
run); `ranking.directory` asks both. Until live registration lands, the control store
knows an account by what only the app's own tools give one: an API token issued to it as
a user or a guardian, or a guardian link (either side). Registration adds its table to the
one statement below, and every caller counts it at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from reelrank.control.connection import Connection, chunks, marks

__all__ = ["registered_users"]


def registered_users(con: Connection, users: Sequence[object]) -> set[object]:
    """The ids among `users` the control store holds as accounts (compared as stored)."""
    found: set[object] = set()
    for part in chunks(list(dict.fromkeys(users))):
        at = marks(part)
        found.update(row[0] for row in con.execute(
            f"SELECT subject_id FROM api_tokens WHERE scope IN ('user', 'guardian') "
            f"AND subject_id IN ({at}) "
            f"UNION SELECT child_id FROM guardians WHERE child_id IN ({at}) "
            f"UNION SELECT guardian_id FROM guardians WHERE guardian_id IN ({at})",
            [*part, *part, *part]).fetchall())
    return found
