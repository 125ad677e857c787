"""What one `reelrank run` did, as the command prints it and the report shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunSummary"]


@dataclass(frozen=True)
class RunSummary:
    home: Path
    run_id: str
    success: bool
    seconds: float
    rows: dict[str, int]
    quarantined: int
    failed_checks: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    runs: tuple[str, ...] = ()          # every Dagster run id of this invocation, in order
    report: Path | None = None

    def render(self) -> str:
        status = "succeeded" if self.success else "FAILED"
        lines = [f"nightly run {self.run_id[:8]} {status} in {self.seconds:.1f}s",
                 f"  data home:   {self.home}",
                 f"  warehouse:   {self.home / 'warehouse.duckdb'}",
                 f"  feeds:       {self.home / 'feeds' / 'latest'}",
                 f"  run history: {self.home / 'dagster'} (open with `make dagster`)"]
        if self.report is not None:
            lines.append(f"  report:      {self.report}")
        lines += [f"  {note}" for note in self.notes]
        lines.append("  rows:        " + ", ".join(
            f"{t} {n:,}" for t, n in self.rows.items() if n))
        if self.quarantined:
            lines.append(f"  quarantined: {self.quarantined:,} records "
                         f"(`reelrank quarantine --home {self.home}`)")
        if self.failed_checks:
            lines.append("  failed checks: " + ", ".join(self.failed_checks))
        return "\n".join(lines)
