"""`reelrank experiments create|list|stop|report --home H`: experiments as data.

    reelrank experiments create --home H --name NAME [--kind ab|interleave]
        --variant 'control' --variant 'weak:{"mmr_lambda": 0.0}' [--shares 0.5,0.5]
        [--share 1.0] [--start ISO] [--end ISO] [--salt TEXT]
    reelrank experiments list --home H [--json]
    reelrank experiments stop --home H --name NAME
    reelrank experiments report --home H --name NAME [--json]

A variant is `NAME` or `NAME:{json overrides}` (the ranking settings of
`reelrank.experiments.OVERRIDABLE`, plus `"ranker": DIR` for a trained ranker directory).
Results (`report`) join the experiment's exposures with the events since it started: those
still in the control store's inbox and those the nightly job moved into the warehouse.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from cli.html import embed, escape, table
from reelrank.control import experiments as store
from reelrank.control.connection import stamp, transaction
from reelrank.errors import ReelrankError
from reelrank.experiment_results import results_of
from reelrank.experiments import parse_experiment
from reelrank.home import DataHome

__all__ = ["experiments_main", "experiments_section"]


def _variant(text: str) -> dict[str, object]:
    name, _, raw = text.partition(":")
    variant: dict[str, object] = {"name": name.strip()}
    if raw.strip():
        try:
            overrides = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ReelrankError(f"variant {name!r}: overrides are not JSON: {exc}") from exc
        if not isinstance(overrides, dict):
            raise ReelrankError(f"variant {name!r}: overrides must be a JSON object")
        ranker = overrides.pop("ranker", None)
        variant["overrides"] = overrides
        if ranker is not None:
            variant["ranker"] = ranker
    return variant


def _when(text: str | None, default: datetime | None) -> str | None:
    if text is None:
        return stamp(default) if default is not None else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReelrankError(f"{text!r} is not an ISO date or time") from exc
    return stamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelrank experiments",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    create = sub.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--kind", choices=("ab", "interleave"), default="ab")
    create.add_argument("--variant", action="append", required=True, type=_variant,
                        help="NAME or NAME:{json overrides}; repeat per variant")
    create.add_argument("--shares", default=None,
                        help="ab: comma-separated traffic share per variant (default equal)")
    create.add_argument("--share", type=float, default=None,
                        help="interleave: the share of traffic merged (default 1)")
    create.add_argument("--start", default=None, help="ISO time (default now)")
    create.add_argument("--end", default=None, help="ISO time (default: until stopped)")
    create.add_argument("--salt", default=None, help="assignment salt (default random)")
    for verb in ("list", "stop", "report"):
        p = sub.add_parser(verb)
        if verb != "list":
            p.add_argument("--name", required=True)
        if verb != "stop":
            p.add_argument("--json", action="store_true")
    for p in (parser, *sub.choices.values()):
        p.add_argument("--home", type=Path, default=None)
    return parser


def experiments_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        home = DataHome.open(args.home)
        now = datetime.now(UTC)
        if args.verb == "report":
            out = results_of(home, args.name)
            print(json.dumps(out, default=str) if args.json else _render(out))
            return 0
        con = home.control()
        try:
            if args.verb == "create":
                variants = args.variant
                if args.shares:
                    shares = [float(s) for s in args.shares.split(",")]
                    if len(shares) != len(variants):
                        raise ReelrankError(f"--shares has {len(shares)} values for "
                                            f"{len(variants)} variants")
                    for v, s in zip(variants, shares, strict=True):
                        v["share"] = s
                experiment = parse_experiment(
                    args.name, args.kind, variants, salt=args.salt or secrets.token_hex(8),
                    starts_at=_when(args.start, now), ends_at=_when(args.end, None),
                    share=args.share, settings=home.settings)
                with transaction(con):
                    made = store.create(con, experiment, now)
                print(json.dumps(made.as_json(stamp(now))))
            elif args.verb == "stop":
                with transaction(con):
                    print(json.dumps(store.stop(con, args.name, now).as_json(stamp(now))))
            else:
                every = [e.as_json(stamp(now)) for e in store.list_all(con)]
                if args.json:
                    print(json.dumps({"experiments": every}))
                for e in every if not args.json else ():
                    shares = ", ".join(f"{v['name']} {v['share']:g}" for v in e["variants"])
                    print(f"{e['name']:<20} {e['kind']:<10} {e['status']:<9} {shares}")
        finally:
            con.close()
    except ReelrankError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _render(out: dict) -> str:
    lines = [(f"experiment {out['experiment']} ({out['kind']}): {out['users']} users, "
             f"{out['exposures']} impressions")]
    if out.get("kind") == "interleave" and out.get("users"):
        a, b = out["teams"]
        lines.append(f"  wins {a} {out['wins'][a]}, {b} {out['wins'][b]}, ties {out['ties']};"
                     f" preference for {a} {out['preference']:+.4f}, p = {out['p_value']} "
                     f"(sign test {out['sign_test_p']})")
    for name, block in (out.get("variants") or {}).items():
        r = block["engaged_rate"]
        line = (f"  {name:<14} users {block['users']:>6}  engaged {r['rate']:.4f} "
                f"[{r['low']:.4f}, {r['high']:.4f}]")
        if "vs_control" in block:
            d = block["vs_control"]
            line += f"  diff {d['engaged_rate_diff']:+.4f} p = {d['p_value']:.4g}"
        lines.append(line)
    srm = out.get("sample_ratio")
    if srm and srm.get("mismatch"):
        lines.append(f"  SAMPLE RATIO MISMATCH: p = {srm['p_value']:.2g}; do not trust this")
    return "\n".join(lines)


def experiments_section(home: DataHome, figure) -> str:
    """The run report's section from `HOME/reports/experiments.json` (the nightly asset's)."""
    path = home.dir("reports") / "experiments.json"
    out = ['<section id="experiments"><h2>Experiments</h2>']
    if not path.is_file():
        return "".join(out) + ("<p>No experiment results yet; see <code>reelrank experiments "
                               "--help</code>.</p></section>")
    results = json.loads(path.read_text())["experiments"]
    if not results:
        return "".join(out) + "<p>No experiments defined.</p></section>"
    for name, r in results.items():
        out.append(f"<h3>{escape(name)} ({escape(r['kind'])})</h3><p>{r['users']} users, "
                   f"{r['exposures']} impressions.</p>")
        if r["kind"] == "interleave" and r.get("users"):
            a, b = r["teams"]
            out.append(table(("team", "wins", "credits", "picks"), [
                (t, str(r["wins"][t]), str(r["credits"][t]), str(r["picks"][t]))
                for t in (a, b)]))
            out.append(f"<p>Ties {r['ties']}; preference for {escape(a)} "
                       f"{r['preference']:+.4f}, p = {r['p_value']}.</p>")
            continue
        variants = r.get("variants") or {}
        rows = []
        for v, b in variants.items():
            e = b["engaged_rate"]
            d = b.get("vs_control") or {}
            rows.append((v, str(b["users"]), str(b["impressions"]),
                         f"{e['rate']:.4f} [{e['low']:.4f}, {e['high']:.4f}]",
                         f"{b['likes_per_impression']['rate']:.4f}",
                         f"{b['completions_per_impression']['rate']:.4f}",
                         f"{b['session_length']['mean']:.1f}",
                         f"{d['engaged_rate_diff']:+.4f} (p {d['p_value']:.3g})" if d else "-"))
        out.append(table(("variant", "users", "impressions", "engaged [95% CI]", "likes",
                          "completions", "session", "vs control"), rows))
        srm = r.get("sample_ratio") or {}
        if srm.get("mismatch"):
            out.append(f"<p><strong>Sample ratio mismatch</strong> (p = {srm['p_value']:.2g}):"
                       " the assignment or its logging is broken.</p>")
        if figure and variants:
            fig = figure(figsize=(6, 3))
            ax = fig.subplots()
            names = list(variants)
            rates = [variants[v]["engaged_rate"]["rate"] for v in names]
            errs = [variants[v]["engaged_rate"]["rate"] - variants[v]["engaged_rate"]["low"]
                    for v in names]
            ax.bar(names, rates, yerr=errs, capsize=6, color="#4477aa")
            ax.set_ylabel("engaged per impression")
            out.append(embed(fig, f"{name}: engaged rate per variant, 95% intervals"))
    return "".join(out) + "</section>"
