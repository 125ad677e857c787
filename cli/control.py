"""`reelrank control copy --home H --to postgresql://...`: move a home's control store (its
`control.sqlite`) onto a PostgreSQL server, for API servers and workers on several hosts.

The target is migrated first and must be empty; every row is copied in one transaction
(`reelrank.control.transfer`). Stop the home's API servers and workers first: writes the
SQLite store takes after the copy began are not in the copy. Then start every process with
`REELRANK_CONTROL_URL` set to the same URL.
"""

from __future__ import annotations

import argparse
import json
from contextlib import closing

from reelrank.control.connection import POSTGRES_SCHEMES, connect
from reelrank.control.transfer import copy_store
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["add_control_parser", "control"]


def add_control_parser(sub: argparse._SubParsersAction, home_arg) -> None:
    parser = sub.add_parser("control", help="the control store: copy it onto PostgreSQL")
    verbs = parser.add_subparsers(dest="verb", required=True)
    copy = verbs.add_parser("copy", help="copy the home's control.sqlite into an empty "
                            "PostgreSQL store (prints rows copied per table as JSON)")
    home_arg(copy)
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the PostgreSQL store: postgresql://user@host:port/database")


def control(args: argparse.Namespace) -> int:
    if not str(args.to).startswith(POSTGRES_SCHEMES):
        raise ReelrankError(f"--to must be a postgresql:// URL, got {args.to!r}")
    home = DataHome.open(args.home)
    if not home.control_path.is_file():
        raise ReelrankError(f"{home.control_path} does not exist: nothing to copy")
    with closing(connect(home.control_path)) as source, closing(connect(args.to)) as target:
        copied = copy_store(source, target)
    print(json.dumps({"copied": copied, "rows": sum(copied.values())}, sort_keys=True))
    return 0
