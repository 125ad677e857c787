"""The Dagster instance for a data home, configured by the repo's dagster.yaml."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from reelrank.home import DataHome

__all__ = ["instance_for"]


def _config_dir() -> Path | None:
    repo_root = Path(__file__).resolve().parent.parent
    return repo_root if (repo_root / "dagster.yaml").is_file() else None


def instance_for(home: DataHome) -> DagsterInstance:
    """dagster.yaml's settings, with the instance's storage inside `home`."""
    base = home.dir("dagster")
    overrides = {
        "storage": {"sqlite": {"base_dir": str(base / "storage")}},
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(base)},
        },
        "compute_logs": {
            "module": "dagster._core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(base / "logs")},
        },
    }
    config_dir = _config_dir()
    ref = InstanceRef.from_dir(
        str(base), config_dir=str(config_dir) if config_dir else None, overrides=overrides)
    return DagsterInstance.from_ref(ref)
