"""Training with NumPy alone: a plain progress line for tqdm, the pictures skipped with one line that says
what to install, and the same weights as with the libraries; the other tools fail in one line."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from tensorgrad.cli import draw as draw_cli
from tensorgrad.cli import export as export_cli
from tensorgrad.cli import predict as predict_cli
from tensorgrad.progress import PlainProgress, progress_bar
from tensorgrad.training import TrainConfig, load_checkpoint, train_run
from tensorgrad.training.run import RUN_FILES, _note_missing_picture_libraries

PICTURES = {"curves.png", "confusion.png", "graph.svg"}


def block(monkeypatch, *modules: str) -> None:
    """Make `modules` look uninstalled (import raises ImportError) for the rest of the test."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def test_a_run_without_tqdm_matplotlib_and_graphviz(monkeypatch, capsys, tmp_path, fashion, finished_run):
    block(monkeypatch, "tqdm", "matplotlib", "graphviz")
    config = TrainConfig.from_dict(json.loads((finished_run / "config.json").read_text()))
    lines = []
    outcome = train_run(config, tmp_path / "run", dataset=fashion, log=lines.append, progress=True)
    assert outcome.exit_code == 0
    assert lines[0] == (
        "note: curves.png, confusion.png and graph.svg will not be drawn: matplotlib and graphviz are not "
        "installed (pip install tensorgrad[train] installs them)"
    )
    assert not any("note" in line for line in lines[1:])
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert files == set(RUN_FILES) - PICTURES
    # the plain progress line: rewritten in place, the last state shown, erased at the end
    err = capsys.readouterr().err
    assert "\repoch 2/2: 20/20 batch, loss " in err and err.endswith("\r")
    # and nothing else changes: the same weights and results as the run with every library
    expected = json.loads((finished_run / "results.json").read_text())
    assert outcome.results["test_accuracy"] == expected["test_accuracy"]
    a, b = (load_checkpoint(run / "best.npz").model_state for run in (finished_run, tmp_path / "run"))
    assert a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)


def test_the_note_names_only_what_is_missing(monkeypatch):
    block(monkeypatch, "graphviz")
    lines = []
    assert _note_missing_picture_libraries(lines.append) == ["graph.svg"]
    assert lines == [
        "note: graph.svg will not be drawn: graphviz is not installed (pip install tensorgrad[train] installs them)"
    ]
    monkeypatch.undo()
    assert _note_missing_picture_libraries(lines.append) == []
    assert len(lines) == 1


def test_progress_bar_is_tqdm_when_installed_and_plain_otherwise(monkeypatch):
    from tqdm import tqdm

    with progress_bar(range(3), disable=True) as bar:
        assert isinstance(bar, tqdm)
    block(monkeypatch, "tqdm")
    with progress_bar(range(3), disable=True) as bar:
        assert isinstance(bar, PlainProgress)
        assert list(bar) == [0, 1, 2]


def test_plain_progress_shows_bytes_like_a_download_and_stays_quiet_when_disabled():
    out = io.StringIO()
    with PlainProgress(
        total=3 * 2**20, desc="x.gz", unit="B", unit_scale=True, unit_divisor=1024, file=out, interval=0
    ) as bar:
        bar.update(1000)
        bar.update(2 * 2**20)
    assert out.getvalue() == "\rx.gz: 1000B/3.0MiB\rx.gz: 2.0MiB/3.0MiB\n"
    quiet = io.StringIO()  # not a terminal: disable=None hides it, as tqdm does
    with PlainProgress(range(5), file=quiet, disable=None) as bar:
        assert list(bar) == [0, 1, 2, 3, 4]
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("tool", "argv", "module", "message"),
    [
        (
            predict_cli,
            ["{run}", "{run}/image.png"],
            "PIL",
            "reading image files needs Pillow, which is not installed: pip install tensorgrad[train]",
        ),
        (
            export_cli,
            ["{run}", "{run}/model.onnx"],
            "onnx",
            "ONNX export needs onnx, which is not installed: pip install tensorgrad[onnx]",
        ),
        (
            draw_cli,
            ["--out", "{run}/graph.png"],
            "graphviz",
            "drawing the graph needs graphviz, which is not installed: pip install tensorgrad[viz]",
        ),
    ],
)
def test_a_tool_without_its_library_fails_in_one_line(
    tool, argv, module, message, monkeypatch, capsys, finished_run
):
    block(monkeypatch, module)
    argv = [arg.format(run=finished_run) for arg in argv]
    assert tool.main(argv, prog="tensorgrad tool") == 1
    assert capsys.readouterr().err == f"tensorgrad tool: error: {message}\n"
