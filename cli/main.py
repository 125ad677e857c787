"""The `reelrank` command line.

Human-readable progress goes to stderr; stdout carries only results (a summary, or JSON
with --json), so output can be piped into other tools.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cli import server
from cli.control import add_control_parser, control
from reelrank.errors import ReelrankError

__all__ = ["main"]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _home_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home", default=None,
        help="data home directory (default: $REELRANK_HOME, else ./.reelrank)")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelrank", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser(
        "simulate", help="write a synthetic world's input files (or, with `simulate "
        "sessions`, play its users against the engine)",
        epilog="`reelrank simulate sessions --help`: the closed-loop session simulator")
    sim.add_argument("--out", required=True, type=Path, help="directory to write")
    sim.add_argument("--users", type=_positive, default=3_000)
    sim.add_argument("--days", type=_positive, default=14)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--start", type=_date, default=datetime(2026, 1, 1, tzinfo=UTC),
                     help="first day of the world (default 2026-01-01)")
    sim.add_argument("--overwrite", action="store_true",
                     help="replace a world already in --out (only its own files)")

    sub.add_parser("experiments", help="A/B tests and interleaving: create, list, stop, "
                   "report (`reelrank experiments --help`)")
    # Listed for --help; `main` hands `benchmark ...` to cli.benchmark, which owns its options.
    sub.add_parser("benchmark", help="the engine against tuned baselines on the home's own "
                   "log (`reelrank benchmark --help`)")

    ing = sub.add_parser("ingest", help="load input files into the data home")
    ing.add_argument("directory", type=Path)
    _home_arg(ing)
    ing.add_argument("--json", action="store_true", help="print the report as JSON")

    imp = sub.add_parser("import", help="import a public interaction log layout")
    layouts = imp.add_subparsers(dest="layout", required=True)
    generic = layouts.add_parser("interactions", help="user_id, item_id, timestamp (+ event_type "
                                 "| rating | weight) in Parquet or CSV")
    generic.add_argument("file", type=Path)
    generic.add_argument("--items", type=Path, default=None,
                         help="item_id, text (+ creator_id, topic)")
    _home_arg(generic)
    for layout, helptext in (("movielens", "a MovieLens directory (ml-100k, ml-1m, ml-latest)"),
                             ("kuairec", "a KuaiRec directory (CSV layout)")):
        one = layouts.add_parser(layout, help=helptext)
        one.add_argument("directory", type=Path)
        _home_arg(one)

    run = sub.add_parser("run", help="run the nightly job in-process")
    _home_arg(run)
    run.add_argument("--users", type=_positive, default=None,
                     help="size of the default world built in an empty home")
    run.add_argument("--days", type=_positive, default=None)
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--evaluate", action="store_true",
                     help="also run the offline evaluation and put its table in the report")
    run.add_argument("--processes", type=_positive, default=1,
                     help="score the user shards in up to N processes at once, on Dagster's "
                     "multiprocess executor (default 1: in this process)")
    run.add_argument("--refresh", action="store_true",
                     help="the intraday refresh instead of the nightly job: features and the "
                     "content index from what happened since, the current ranker")

    ev = sub.add_parser("evaluate", help="offline evaluation on a temporal holdout")
    _home_arg(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--world", type=Path, default=None,
                    help="synthetic world directory with ground truth, for the oracle "
                         "(default: the home's own world, if it has exactly one)")
    ev.add_argument("--test-days", type=_positive, default=2)
    ev.add_argument("--valid-days", type=_positive, default=2)

    quar = sub.add_parser("quarantine", help="show quarantined records and why")
    _home_arg(quar)
    quar.add_argument("--limit", type=_positive, default=20)
    quar.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", help="run the HTTP API")
    _home_arg(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--no-access-log", action="store_true",
                       help="do not log one line per request")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="API processes sharing the port and one memory-mapped snapshot "
                       "(default 1)")

    tokens = sub.add_parser("tokens", help="issue or revoke API bearer tokens")
    verbs = tokens.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="print a new token (only the token, on stdout)")
    _home_arg(create)
    whom = create.add_mutually_exclusive_group(required=True)
    whom.add_argument("--user", help="a user token: acts for this user id only")
    whom.add_argument("--guardian", help="a guardian token: manages this guardian's children")
    whom.add_argument("--service", help="a service token (the app's backend), by name")
    create.add_argument("--label", default=None, help="a note stored with the token")
    revoke = verbs.add_parser("revoke", help="revoke a token")
    _home_arg(revoke)
    revoke.add_argument("token")

    add_control_parser(sub, _home_arg)

    sub.add_parser("worker", add_help=False,
                   help="run the generation worker (see `reelrank worker --help`)")
    return parser


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65_536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def _cmd_simulate(args: argparse.Namespace) -> int:
    from reelrank.simulate import simulate

    started = time.perf_counter()
    summary = simulate(args.out, users=args.users, days=args.days, seed=args.seed,
                       start=args.start, progress=_say, overwrite=args.overwrite)
    print(f"wrote a synthetic world to {args.out} in {time.perf_counter() - started:.1f}s")
    for name, count in summary.counts.items():
        print(f"  {name:<14} {count:>12,}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from reelrank.home import DataHome
    from reelrank.ingest import ingest_directory

    home = DataHome.open(args.home)
    report = ingest_directory(home, args.directory, progress=_say)
    if args.json:
        print(json.dumps({"home": str(home.root), "tables": [
            {"table": t.table, "files": t.files, "read": t.read, "loaded": t.loaded,
             "unchanged": t.unchanged, "quarantined": t.quarantined, "refused": t.refused,
             "reasons": t.reasons}
            for t in report.tables]}, indent=2))
        return 0
    print(f"ingested {args.directory} into {home.root}")
    print(f"  {'table':<14}{'read':>12}{'loaded':>12}{'unchanged':>12}{'quarantined':>13}")
    for t in report.tables:
        print(f"  {t.table:<14}{t.read:>12,}{t.loaded:>12,}{t.unchanged:>12,}"
              f"{t.quarantined:>13,}")
    refused = sum(t.refused for t in report.tables)
    if refused:
        print(f"  {refused:,} chat snippets of users without chat personalization were not "
              "kept")
    if report.quarantined:
        print(f"  {report.quarantined:,} records quarantined; see "
              f"`reelrank quarantine --home {home.root}`")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from reelrank.home import DataHome
    from reelrank.importers import import_interactions, import_kuairec, import_movielens

    home = DataHome.open(args.home)
    if args.layout == "interactions":
        report = import_interactions(home, args.file, items=args.items, progress=_say)
    elif args.layout == "movielens":
        report = import_movielens(home, args.directory, progress=_say)
    else:
        report = import_kuairec(home, args.directory, progress=_say)
    print(f"imported {report.interactions:,} interactions ({report.layout}) into {home.root}")
    for table, rows in report.written.items():
        print(f"  {table:<14}{rows:>12,} staged")
    print(f"  {report.ingest.loaded:,} records loaded, {report.ingest.quarantined:,} quarantined;"
          f" staged files kept in {report.staging}")
    for note in report.notes:
        print(f"  note: {note}")
    print(f"next: reelrank run --home {home.root}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from cli.runner import run_nightly
    from reelrank.home import DataHome

    home = DataHome.open(args.home)
    summary = run_nightly(home, users=args.users, days=args.days, seed=args.seed,
                          progress=_say, evaluate=args.evaluate, refresh=args.refresh,
                          processes=args.processes)
    print(summary.render())
    return 0 if summary.success else 1


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ranking.evaluate import evaluate
    from reelrank.home import DataHome

    home = DataHome.open(args.home)
    world = args.world
    if world is None:
        worlds = [p for p in home.dir("worlds").iterdir() if (p / "truth").is_dir()]
        world = worlds[0] if len(worlds) == 1 else None
    with home.writing(timeout_s=600) as con:
        missing = {"engagement_daily", "item_embeddings", "features_item"} - {
            r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()}
        if missing:
            raise ReelrankError(
                f"{home.root} has no features yet ({', '.join(sorted(missing))} missing); "
                f"run `reelrank run --home {home.root}` first")
        report = evaluate(con, home.settings, world=world, test_days=args.test_days,
                          valid_days=args.valid_days, progress=_say)
    if args.json:
        print(json.dumps(report.as_json()))
        return 0
    split = report.split
    print(f"offline evaluation of {home.root}: test days {split.test[0]} .. {split.test[1]} "
          f"(exclusive){'; oracle from ' + str(world) if world else ''}")
    print(f"  {'model':<18}{'NDCG@10':>9}{'Recall@50':>11}{'coverage@10':>13}{'novelty@10':>12}")
    for name, m in report.models.items():
        cells = [m.get(k) for k in ("ndcg@10", "recall@50", "coverage@10", "novelty@10")]
        print(f"  {name:<18}" + "".join(
            f"{'' if v is None else f'{v:.4f}':>{w}}" for v, w in zip(cells, (9, 11, 13, 12))))
    return 0


def _cmd_quarantine(args: argparse.Namespace) -> int:
    from reelrank.home import DataHome

    home = DataHome.open(args.home)
    with home.writing(timeout_s=60) as con:
        rows = con.execute(
            "SELECT table_name, source, record_no, reason, record FROM quarantine "
            "ORDER BY quarantined_at DESC, source, record_no LIMIT ?", [args.limit]).fetchall()
        total = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    if args.json:
        print(json.dumps({"total": total, "rows": [
            dict(zip(("table", "source", "record_no", "reason", "record"), r)) for r in rows]}))
        return 0
    print(f"{total:,} quarantined records in {home.root} (newest {len(rows)} shown)")
    for table, source, record_no, reason, record in rows:
        print(f"- {table} record {record_no} of {source}: {reason}\n    {record[:160]}")
    return 0


_COMMANDS = {
    "simulate": _cmd_simulate,
    "ingest": _cmd_ingest,
    "run": _cmd_run,
    "quarantine": _cmd_quarantine,
    "evaluate": _cmd_evaluate,
    "import": _cmd_import,
    "serve": server.serve,
    "tokens": server.tokens,
    "control": control,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        # The worker owns its options; imported here, as it pulls in the generation stack.
        from generation.cli import worker_main

        return worker_main(argv[1:])
    if argv[:1] == ["experiments"]:
        from cli.experiments import experiments_main

        return experiments_main(argv[1:])
    if argv[:1] == ["benchmark"]:
        from cli.benchmark import benchmark_main

        return benchmark_main(argv[1:])
    if argv[:2] == ["simulate", "sessions"]:
        # A sub-verb with options of its own; `simulate --out DIR ...` is unchanged.
        from cli.sessions.command import sessions_main

        return sessions_main(argv[2:])
    args = _parser().parse_args(argv)
    if getattr(args, "home", None) is not None:
        os.environ["REELRANK_HOME"] = str(Path(args.home).resolve())
    try:
        return _COMMANDS[args.command](args)
    except ReelrankError as exc:
        print(f"reelrank {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
