"""HTML and plot helpers of the reports (`cli.report`, the sessions section): escaped
tables, and matplotlib figures embedded as base64 PNG, so a report is one file that fetches
nothing. Plots are optional: without matplotlib, `figure_class()` is None and callers keep
their tables."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["bars", "embed", "escape", "figure_class", "fmt", "histogram", "table"]

def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else (f"{value:,.0f}" if value.is_integer()
                                             and abs(value) >= 1 else f"{value:.4f}")
    return "" if value is None else str(value)


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], *,
          show_header: bool = True, table_id: str | None = None,
          raw_columns: frozenset[int] = frozenset()) -> str:
    """Cells are escaped, except those in `raw_columns` (markup this module made)."""
    ident = f' id="{escape(table_id)}"' if table_id else ""
    head = ("<tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr>"
            if show_header else "")
    body = "".join("<tr>" + "".join(_cell(cell, n in raw_columns) for n, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table{ident}>{head}{body}</table>"


def _cell(text: str, raw: bool) -> str:
    numeric = text.replace(",", "").replace("%", "").replace(".", "", 1).lstrip("-").isdigit()
    opening = '<td class="n">' if numeric else "<td>"
    return f"{opening}{text if raw else escape(text)}</td>"


def figure_class():  # -> type[matplotlib.figure.Figure] | None
    """Plots are optional: without matplotlib the report keeps every table."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def embed(fig, caption: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def bars(figure, values: Mapping[str, float], caption: str, axis: str, *,
         horizontal: bool = False) -> str:
    labels, heights = list(values), [float(v) for v in values.values()]
    fig = figure(figsize=(7, max(2.5, 0.3 * len(labels)) if horizontal else 3))
    ax = fig.subplots()
    if horizontal:
        ax.barh(labels[::-1], heights[::-1], color="#4477aa")
        ax.set_xlabel(axis)
    else:
        ax.bar(labels, heights, color="#4477aa")
        ax.set_ylabel(axis)
        ax.tick_params(axis="x", labelrotation=30)
    return embed(fig, caption)


def histogram(figure, values, caption: str, axis: str) -> str:
    fig = figure(figsize=(7, 3))
    ax = fig.subplots()
    ax.hist(values, bins=40, color="#4477aa")
    ax.set_xlabel(axis)
    ax.set_ylabel("feed rows")
    return embed(fig, caption)


def splice(page: str, section: str, opening: str, closing: str) -> str:
    """`page` with the part between the markers replaced by `section` (which carries the
    markers itself), or `section` added before the footer when the page has none yet."""
    if opening in page and closing in page:
        head, rest = page.split(opening, 1)
        return head + section + rest.split(closing, 1)[1]
    anchor = "<p><small>written" if "<p><small>written" in page else "</body>"
    head, _, tail = page.rpartition(anchor)
    return head + section + "\n" + anchor + tail


def refresh_section(reports: Path, section: str, opening: str, closing: str) -> list[Path]:
    """Put `section` into reports/latest.html and into the run report it copies."""
    latest = reports / "latest.html"
    if not latest.is_file():
        return []
    before = latest.read_bytes()
    targets = [latest] + [p for p in sorted(reports.glob("*.html"))
                          if p != latest and p.read_bytes() == before]
    for path in targets:
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(splice(path.read_text(encoding="utf-8"), section, opening, closing),
                       encoding="utf-8")
        tmp.replace(path)
    return targets


def save_json_report(reports: Path, prefix: str, payload: Mapping[str, object]) -> Path:
    """Write `payload` to reports/<prefix>-<UTC time>.json atomically; names sort by time."""
    path = reports / f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def latest_json_report(reports: Path, prefix: str) -> tuple[Path, dict] | None:
    """The newest reports/<prefix>-*.json and its content, if any."""
    found = sorted(reports.glob(f"{prefix}-*.json"))
    return (found[-1], json.loads(found[-1].read_text())) if found else None
