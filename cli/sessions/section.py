"""The sessions section of the run report, from the latest `HOME/reports/sessions-*.json`.

`reelrank simulate sessions` saves its JSON there and then refreshes the section in
`reports/latest.html` (and in the run's own report, which `latest.html` copies); every later
run report renders the latest saved simulation too (`cli.report` calls `sessions_section`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cli.html import (
    embed,
    escape,
    latest_json_report,
    refresh_section,
    save_json_report,
    table,
)
from reelrank.home import DataHome

__all__ = ["latest_sessions", "refresh_reports", "save_sessions", "sessions_section"]

_OPEN, _CLOSE = "<!-- sessions -->", "<!-- /sessions -->"
_COLOURS = {"live": "#4477aa", "static": "#cc6677"}


def save_sessions(home: DataHome, payload: Mapping[str, object]) -> Path:
    """Write `payload` to reports/sessions-<UTC time>.json (atomically); names sort by time."""
    return save_json_report(home.dir("reports"), "sessions", payload)


def latest_sessions(home: DataHome) -> tuple[Path, dict] | None:
    return latest_json_report(home.dir("reports"), "sessions")


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _page_plot(figure, payload: Mapping[str, Mapping]) -> str:
    fig = figure(figsize=(7, 3))
    ax = fig.subplots()
    for mode, block in payload.items():
        rates = block["engaged_rate_by_page"]
        pages = [p + 1 for p, r in enumerate(rates) if r is not None]
        ax.plot(pages, [r for r in rates if r is not None], marker="o", label=mode,
                color=_COLOURS.get(mode))
    pages = len(next(iter(payload.values()))["engaged_rate_by_page"])
    ax.set_xticks(range(1, pages + 1))
    ax.set_xlabel("page")
    ax.set_ylabel("engaged per impression")
    ax.legend()
    return embed(fig, "Engaged rate (completion or better) per impression, by page")


def _session_plot(figure, payload: Mapping[str, Mapping]) -> str:
    fig = figure(figsize=(7, 3))
    ax = fig.subplots()
    for mode, block in payload.items():
        rates = block.get("engaged_rate_by_session") or []
        nth = [k + 1 for k, r in enumerate(rates) if r is not None]
        ax.plot(nth, [r for r in rates if r is not None], marker="o", label=mode,
                color=_COLOURS.get(mode))
    ax.set_xlabel("the person's n-th session of the day")
    ax.set_ylabel("engaged per impression")
    ax.legend()
    return embed(fig, "Engaged rate by session of the day (a later session starts without "
                 "a cursor)")


def _length_plot(figure, payload: Mapping[str, Mapping]) -> str:
    fig = figure(figsize=(7, 3))
    ax = fig.subplots()
    width = 0.8 / max(len(payload), 1)
    for n, (mode, block) in enumerate(payload.items()):
        hist = block["session_length_histogram"]
        xs = [x + n * width for x in range(len(hist["bins"]))]
        ax.bar(xs, hist.get("sessions", hist.get("persons")), width=width, label=mode, color=_COLOURS.get(mode))
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(hist["bins"]))], hist["bins"])
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("impressions in the session")
    ax.set_ylabel("sessions")
    ax.legend()
    return embed(fig, "Session length distribution: impressions per session")


def _rows(payload: Mapping[str, Mapping]) -> list[tuple[str, ...]]:
    rows = []
    for mode, block in payload.items():
        for name, sub in (("everyone", block), *block["cohorts"].items()):
            if not sub["persons"]:
                continue
            session = sub["session"]["impressions"]
            rows.append((mode, name, str(sub["persons"]), str(sub.get("sessions", "-")),
                         str(sub["impressions"]),
                         _fmt(sub["engaged_rate"]), _fmt(sub["likes_per_impression"]),
                         _fmt(sub["skips_per_impression"]), _fmt(sub["oracle_relevance"]),
                         str(sub["repeats"]), _fmt(session["mean"]), _fmt(session["p50"]),
                         _fmt(session["p90"]),
                         ", ".join(f"{k} {v}" for k, v in sub["stops"].items() if v)))
    return rows


def sessions_section(home: DataHome, figure) -> str:
    """The section, between markers `refresh_reports` finds; a short note when the home
    has no saved simulation."""
    latest = latest_sessions(home)
    out = [_OPEN, '<section id="sessions"><h2>Simulated sessions</h2>']
    if latest is None:
        out.append("<p>No session simulation saved yet; see <code>reelrank simulate sessions "
                   "--help</code>.</p>")
        return "".join(out) + "</section>" + _CLOSE
    path, payload = latest
    first = next(iter(payload.values()))
    setup = first["setup"]
    out.append(f"<p>{escape(path.name)}: {setup['users']} returning and {setup['new_users']} "
               f"new users of {escape(setup['world'])} on {escape(setup['today'])} (snapshot "
               f"{escape(setup['snapshot'])}, seed {setup['seed']}), up to {setup['pages']} "
               f"pages of {setup['page_size']} a session, "
               f"{setup.get('sessions', setup['users'] + setup['new_users'])} sessions "
               f"(sessions a day: {escape(str(setup.get('sessions_per_day', 1)))}); modes: "
               f"{escape(', '.join(payload))}.</p>")
    pages = len(first["engaged_rate_by_page"])
    header = ("page", *(f"{label} {m}" for label in ("engaged", "likes", "skips", "oracle")
                        for m in payload))
    keys = ("engaged_rate_by_page", "likes_per_impression_by_page",
            "skips_per_impression_by_page", "oracle_relevance_by_page")
    out.append(table(header, [(str(p + 1), *(_fmt(payload[m][k][p]) for k in keys
                                             for m in payload)) for p in range(pages)],
                     table_id="sessions-pages"))
    out.append(table(("mode", "who", "persons", "sessions", "impressions", "engaged", "likes",
                      "skips",
                      "oracle", "repeats", "session mean", "p50", "p90", "stopped"),
                     _rows(payload), table_id="sessions-totals"))
    if figure:
        out.append(_page_plot(figure, payload))
        if any(len(b.get("engaged_rate_by_session") or []) > 1 for b in payload.values()):
            out.append(_session_plot(figure, payload))
        out.append(_length_plot(figure, payload))
    return "".join(out) + "</section>" + _CLOSE


def refresh_reports(home: DataHome, figure) -> list[Path]:
    """Put the latest simulation into reports/latest.html and the run report it copies."""
    return refresh_section(home.dir("reports"), sessions_section(home, figure), _OPEN, _CLOSE)
