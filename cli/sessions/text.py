"""The human-readable summary of a session simulation (stdout without --json)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["render_text"]

_PAGE_COLUMNS = (("engaged_rate_by_page", "engaged"), ("likes_per_impression_by_page", "likes"),
                 ("skips_per_impression_by_page", "skips"),
                 ("oracle_relevance_by_page", "oracle"), ("impressions_by_page", "impr."))


def _cell(value: object, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.3f}"
    return f"{value:>{width}}"


def _pages(blocks: Mapping[str, Mapping]) -> list[str]:
    modes = list(blocks)
    pages = len(next(iter(blocks.values()))["engaged_rate_by_page"])
    head = "  page" + "".join(f"{f'{label} {mode}':>16}" for _k, label in _PAGE_COLUMNS
                              for mode in modes)
    reached = max((p + 1 for p in range(pages)
                   if any(blocks[m]["impressions_by_page"][p] for m in modes)), default=0)
    lines = [head]
    for p in range(reached):
        lines.append(f"  {p + 1:>4}" + "".join(_cell(blocks[m][key][p], 16)
                                               for key, _l in _PAGE_COLUMNS for m in modes))
    if reached < pages:
        lines.append(f"  (pages {reached + 1}-{pages}: nobody got that far)"
                     if reached + 1 < pages else f"  (page {pages}: nobody got that far)")
    return lines


def _totals(name: str, block: Mapping) -> list[str]:
    lines = [(f"  {name}: {block['persons']} persons, {block['sessions']} sessions, "
              f"{block['impressions']} impressions; "
              f"engaged {_fmt(block['engaged_rate'])}, likes "
              f"{_fmt(block['likes_per_impression'])}, skips "
              f"{_fmt(block['skips_per_impression'])} per impression; oracle "
              f"{_fmt(block['oracle_relevance'])}; repeats {block['repeats']}")]
    for what, block_key, keys in (("session", "session", ("impressions", "engaged", "likes")),
                                  ("day", "day", ("sessions", "impressions", "engaged"))):
        for key in keys:
            d = block[block_key][key]
            lines.append(f"    per {what:<7} {key:<11} mean {_fmt(d['mean'])}  p10 "
                         f"{_fmt(d['p10'])}  p50 {_fmt(d['p50'])}  p90 {_fmt(d['p90'])}  "
                         f"max {_fmt(d['max'])}")
    if len(block["engaged_rate_by_session"]) > 1:
        lines.append("    engaged by session of the day: " + ", ".join(
            f"{k + 1}: {_fmt(rate)} ({n})" for k, (rate, n) in enumerate(
                zip(block["engaged_rate_by_session"], block["sessions_by_number"],
                    strict=True))))
    lines.append("    stopped: " + ", ".join(f"{k} {v}" for k, v in block["stops"].items()))
    return lines


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _sig(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else "-"


def render_text(payload: Mapping[str, Mapping]) -> str:
    """Per-page rates side by side for the modes that ran, then totals per mode and cohort."""
    first = next(iter(payload.values()))
    setup = first["setup"]
    out = [(f"session simulation of {setup['world']} on {setup['today']} (snapshot "
            f"{setup['snapshot']}, seed {setup['seed']}): {setup['users']} returning + "
            f"{setup['new_users']} new users in {setup['sessions']} sessions (sessions a day: "
            f"{setup['sessions_per_day']}), up to {setup['pages']} pages of "
            f"{setup['page_size']} a session"), "", "per page (rates per impression):"]
    out += _pages(payload)
    for cohort in ("returning", "new"):
        blocks = {m: b["cohorts"][cohort] for m, b in payload.items()}
        if any(b["persons"] for b in blocks.values()):
            out += ["", f"{cohort} users, per page:", *_pages(blocks)]
    for mode, block in payload.items():
        out += ["", f"{mode}:", *_totals("everyone", block)]
        for cohort, sub in block["cohorts"].items():
            if sub["persons"]:
                out += _totals(cohort, sub)
    experiment = payload.get("live", {}).get("setup", {}).get("experiment")
    if experiment:
        out += ["", (f"experiment {experiment['experiment']} ({experiment['kind']}): "
                    f"{experiment['users']} users, {experiment['exposures']} impressions")]
        if experiment["kind"] == "interleave" and experiment.get("users"):
            out.append(f"  wins {experiment['wins']}, ties {experiment['ties']}, preference "
                       f"{experiment['preference']:+.4f}, p = {_sig(experiment['p_value'])}")
        for name, b in (experiment.get("variants") or {}).items():
            d = b.get("vs_control")
            out.append(f"  {name}: {b['users']} users, engaged "
                       f"{b['engaged_rate']['rate']:.4f}"
                       + (f", diff {d['engaged_rate_diff']:+.4f} p = {_sig(d['p_value'])}"
                          if d else ""))
    return "\n".join(out)
