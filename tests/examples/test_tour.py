"""The notebook tour, examples/tour.ipynb, runs top to bottom in a real Jupyter kernel, as `make notebook` runs it.

The kernel is the test's own Python (scripts/run_notebook.py writes a kernelspec for it into a temporary
directory), so it imports the tensorgrad under test.
"""

from __future__ import annotations

import base64
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "examples" / "tour.ipynb"
RUNNER = ROOT / "scripts" / "run_notebook.py"


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    out = tmp_path_factory.mktemp("tour") / "tour.executed.ipynb"
    # One BLAS thread: where other jobs share the two cores, two threads contend, and the training cell took
    # ten times as long (90 s against 8 s, the same results); on a quiet machine they gain little here.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, str(RUNNER), str(TOUR), str(out)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"the notebook failed:\n{result.stderr[-6000:]}"
    return nbformat.read(out, as_version=4)


def code_cells(notebook, tag=None) -> list:
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and (tag is None or tag in cell.metadata.get("tags", []))
    ]


def rich_outputs(cell, mime: str) -> list[str]:
    return [out.data[mime] for out in cell.outputs if "data" in out and mime in out.data]


def printed(notebook) -> str:
    return "".join(
        out.text for cell in code_cells(notebook) for out in cell.outputs if out.output_type == "stream"
    )


def test_the_stored_notebook_has_no_outputs():
    notebook = nbformat.read(TOUR, as_version=4)
    nbformat.validate(notebook)
    for cell in code_cells(notebook):
        assert cell.outputs == [] and cell.execution_count is None, (
            f"cell {cell.id} was stored with its outputs"
        )
    assert "widgets" not in notebook.metadata


def test_every_cell_ran_in_this_python_without_error_or_warning(executed):
    cells = code_cells(executed)
    assert all(cell.execution_count is not None for cell in cells)
    assert [out for cell in cells for out in cell.outputs if out.output_type == "error"] == []
    # stderr would hold warnings, or tqdm's text bar where its notebook widget should be
    assert [out.text for cell in cells for out in cell.outputs if out.get("name") == "stderr"] == []
    assert executed.metadata.language_info.version == platform.python_version()


def test_the_graph_cells_draw_svg(executed):
    cells = code_cells(executed, "graph")
    assert len(cells) == 2  # the gradient's graph and that of the first derivative
    for cell in cells:
        (svg,) = rich_outputs(cell, "image/svg+xml")
        assert "<svg" in svg and "tanh" in svg


def test_the_plot_cells_draw_png(executed):
    cells = code_cells(executed, "plot")
    assert len(cells) == 3  # learning curves, confusion matrix, test images
    for cell in cells:
        (png,) = rich_outputs(cell, "image/png")
        assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_training_loop_shows_a_notebook_progress_bar(executed):
    (cell,) = [cell for cell in code_cells(executed) if "loss.backward()" in cell.source]
    assert rich_outputs(cell, "application/vnd.jupyter.widget-view+json")


def test_the_trained_model_is_plausibly_accurate_and_onnxruntime_agrees(executed):
    text = printed(executed)
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", text).group(1))
    assert 80.0 < accuracy < 95.0
    assert "same classes as tensorgrad: True" in text
