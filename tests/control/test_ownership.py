"""The control plane has one owner: no code outside `reelrank/control/` (tests aside) names a
control-store table in SQL or opens a transaction on the store itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reelrank", "features", "ranking", "generation", "api", "pipelines", "cli",
            "bench", "notebooks")
TABLES = ("cameo_grants", "guardians", "user_settings", "user_blocks", "served_today",
          "api_tokens", "event_inbox", "generation_requests", "credit_ledger",
          "generated_items", "guardian_unlinks", "served_history", "item_labels",
          "registered_users", "erased_users", "user_steering", "user_mutes",
          "user_see_fewer")
SQL = re.compile(r"\b(FROM|INTO|UPDATE|JOIN)\s+(" + "|".join(TABLES) + r")\b"
                 r"|BEGIN IMMEDIATE", re.IGNORECASE)


def test_no_control_store_sql_outside_the_control_plane() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name.startswith("reelrank/control/"):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SQL.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{name}:{n}: {line.strip()}")
    assert offenders == []
