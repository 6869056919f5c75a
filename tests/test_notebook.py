"""The example notebook (examples/notebooks/sweep.ipynb) runs from top to bottom in a fresh kernel, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebooks" / "sweep.ipynb"


def test_the_sweep_notebook_executes_without_a_cell_error(tmp_path: Path) -> None:
    """nbclient raises on the first cell that fails; the outputs show the comparison was made."""
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                   ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    html = "".join(output.get("data", {}).get("text/html", "") for output in outputs)
    assert "linear-seed0" in html and "fold_1" in html
    assert (tmp_path / "studies" / "sweep.db").is_file() and (tmp_path / "folds.png").stat().st_size > 0
