"""The notebooks: each runs top to bottom on a small synthetic world (the data home handed
to it through REELRANK_HOME, as a data scientist's would be `make run`'s), and each is
commit-ready: its .ipynb paired with its percent script, cell for cell, with no outputs."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from cli.runner import run_nightly
from pipelines.resources import EmbedderResource
from reelrank.home import DataHome

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


@pytest.fixture(scope="module")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 users over 8 days: enough days for the temporal split evaluation needs."""
    home = DataHome.open(tmp_path_factory.mktemp("notebooks") / "home")
    summary = run_nightly(home, users=300, days=8, seed=3,
                          embedder=EmbedderResource(backend="hashing"))
    assert summary.success, summary.render()
    return home.root


def test_the_notebooks_are_there() -> None:
    assert [p.stem for p in SCRIPTS] == ["01_features", "02_ranker_variant",
                                         "03_one_users_feed"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_each_notebook_is_paired_and_has_no_outputs(script: Path) -> None:
    stored = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    for cell in stored.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{script.with_suffix('.ipynb').name} has outputs: clear them before commit")
    text = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in text.cells], (
        f"{script.name} and its .ipynb differ: run `jupytext --sync {script}`")


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_each_notebook_runs_top_to_bottom(script: Path, world_home: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELRANK_HOME", str(world_home))   # the kernel inherits it
    notebook = jupytext.read(script)
    client = NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()   # a failing cell raises CellExecutionError with its traceback
    errors = [o for c in notebook.cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
