"""`reelrank simulate sessions`: its options, and what it prints and saves.

stdout carries only the result (the human summary, or exactly one JSON object with --json);
progress goes to stderr. The JSON is also saved as HOME/reports/sessions-<time>.json and
rendered into the latest run report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cli.html import figure_class
from cli.sessions.config import SessionConfig
from cli.sessions.section import refresh_reports, save_sessions
from cli.sessions.simulate import simulate_sessions
from cli.sessions.text import render_text
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

__all__ = ["sessions_main", "sessions_parser"]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _sessions(text: str) -> int | None:
    if text == "world":
        return None
    value = int(text)
    if not 1 <= value <= 48:
        raise argparse.ArgumentTypeError(f"must be 'world' or an integer in [1, 48], got {text}")
    return value


def sessions_parser() -> argparse.ArgumentParser:
    defaults = SessionConfig()
    parser = argparse.ArgumentParser(
        prog="reelrank simulate sessions",
        description="Play the home's synthetic world's users against the real engine (each "
        "person requests pages, watches, likes, skips and stops as the world's ground-truth "
        "model says, and posts their events) and report how the feed does, per page.")
    parser.add_argument("--home", default=None,
                        help="data home directory (default: $REELRANK_HOME, else ./.reelrank)")
    parser.add_argument("--users", type=_count, default=defaults.users,
                        help="returning users (world users with history) to play")
    parser.add_argument("--new-users", type=_count, default=defaults.new_users,
                        help="new users: world users with no event before today")
    parser.add_argument("--pages", type=_positive, default=defaults.pages,
                        help="most pages a person requests")
    parser.add_argument("--page-size", type=_positive, default=None,
                        help="items per page (default: the API's api_page_default)")
    parser.add_argument("--sessions", type=_sessions, default=defaults.sessions,
                        metavar="world|N",
                        help="times each person opens the app today, each session starting "
                        "without a cursor: 'world' (default) draws them from the world's "
                        "daily rate, Poisson(return_rate x activity) given at least one; N: "
                        "exactly N (1: one session a day, as the world's log has)")
    parser.add_argument("--seed", type=_count, default=defaults.seed)
    parser.add_argument("--max-skip-run", type=_count, default=defaults.max_skip_run,
                        help="a person stops after this many skips in a row (0: never)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--static", action="store_true",
                       help="only last night's precomputed lists, without the API")
    which.add_argument("--compare", action="store_true",
                       help="the live feed and the static one, same persons and seeds")
    parser.add_argument("--url", default=None,
                        help="a running server to play against (default: the API in-process, "
                        "on a sandbox of the home)")
    parser.add_argument("--token", default=None,
                        help="a service token for --url (default: $REELRANK_TOKEN)")
    parser.add_argument("--world", type=Path, default=None,
                        help="the synthetic world (default: the one under HOME/worlds)")
    parser.add_argument("--experiment", default=None,
                        help="run the live feed under this experiment (reelrank experiments "
                        "create) and report its results; in-process, the sandbox runs it "
                        "from the simulated day on")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    return parser


def _fail(message: str) -> int:
    print(f"reelrank simulate sessions: error: {message}", file=sys.stderr)
    return 2


def sessions_main(argv: Sequence[str]) -> int:
    args = sessions_parser().parse_args(list(argv))
    if args.home is not None:
        os.environ["REELRANK_HOME"] = str(Path(args.home).resolve())
    home = DataHome.open(args.home)
    try:
        config = SessionConfig(
            users=args.users, new_users=args.new_users, pages=args.pages,
            page_size=args.page_size or home.settings.api_page_default, seed=args.seed,
            max_skip_run=args.max_skip_run, sessions=args.sessions)
    except ValueError as exc:
        return _fail(str(exc))
    modes = ("static",) if args.static else ("live", "static") if args.compare else ("live",)
    try:
        run = simulate_sessions(home, config, modes=modes, url=args.url,
                                token=args.token or os.environ.get("REELRANK_TOKEN"),
                                world=args.world, progress=_say,
                                experiment=args.experiment)
    except ReelrankError as exc:
        return _fail(str(exc))
    payload = run.as_json()
    saved = save_sessions(home, payload)
    refreshed = refresh_reports(home, figure_class())
    _say(f"saved {saved}" + (f"; report {refreshed[0]}" if refreshed else ""))
    print(json.dumps(payload) if args.json else render_text(payload))
    return 0
