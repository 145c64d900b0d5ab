"""What people see: epoch lines within 80 columns, a progress bar that clears, no NumPy warnings, hints that fit
the flags given, scripts that say how to run them, and quiet ends to closed pipes."""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tensorgrad.cli import draw
from tensorgrad.training import config_for, train_run
from tensorgrad.training.loop import epoch_header, format_epoch, progress_bar_width

ROOT = Path(__file__).resolve().parent.parent.parent


def test_epoch_lines_fit_in_80_columns_even_at_their_widest():
    widest = {
        "epoch": 999,
        "train_loss": 99999.9999,
        "train_accuracy": 1.0,
        "val_loss": 999.9999,
        "val_accuracy": 1.0,
        "lr": 1.5e-3,
        "seconds": 9999.9,
        "skipped_steps": 99999,
    }
    for show_skipped in (False, True):
        lines = [epoch_header(999, show_skipped), format_epoch(widest, 999, True, show_skipped)]
        assert all(len(line) <= 79 for line in lines), lines
        assert len(lines[0]) == len(lines[1])  # the columns line up under their names


def test_a_run_logs_a_header_then_aligned_epoch_lines(fashion, small_config, tmp_path):
    lines = []
    train_run(small_config(epochs=2), tmp_path / "run", dataset=fashion, log=lines.append)
    assert lines[0].split() == ["epoch", "train", "loss", "acc", "val", "loss", "acc", "lr", "time", "best"]
    assert re.fullmatch(
        r" +1/2 +\d\.\d{4} +\d+\.\d\d% +\d\.\d{4} +\d+\.\d\d% +1\.0e-03 +\d+\.\ds +\*", lines[1]
    )
    assert all(len(line) <= 79 for line in lines[:3])


def test_the_progress_bar_leaves_room_for_the_echoed_ctrl_c(
    fashion, small_config, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("COLUMNS", "80")
    assert progress_bar_width() == 77
    train_run(small_config(epochs=1), tmp_path / "run", dataset=fashion, log=lambda _: None, progress=True)
    drawn = [part for part in capsys.readouterr().err.split("\r") if part.strip()]
    assert drawn and any("epoch 1/1" in part for part in drawn)
    assert max(len(part) for part in drawn) <= 77


def test_a_diverging_run_shows_no_numpy_warnings_and_hints_only_at_flags_not_set(
    fashion, small_config, tmp_path
):
    lines = []
    config = small_config(optimizer="sgd", lr=1e9, on_nan="skip", epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = train_run(config, tmp_path / "run", dataset=fashion, log=lines.append)
    assert outcome.exit_code == 1
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    stop = next(line for line in lines if "Stopped:" in line)
    assert "Try a lower --lr, or --clip-grad-norm." in stop and "--on-nan skip" not in stop


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / "scripts" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("value", ["0", "-1"])
def test_draw_graph_checks_the_batch_size(value, capsys):
    with pytest.raises(SystemExit) as info:
        draw.main(["--batch-size", value])
    assert info.value.code == 2
    assert f"--batch-size: must be >= 1, got {value}" in capsys.readouterr().err


def test_draw_graph_reports_an_unwritable_out_in_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "graph.svg"  # a path through a file: cannot be created
    assert draw.main(["--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tensorgrad draw: error: ") and "Traceback" not in err and err.count("\n") == 1
    assert str(tmp_path / "file") in err


@pytest.mark.parametrize("script", ["train.py", "results_table.py"])
def test_a_script_run_by_a_python_without_the_dependencies_says_which_python_to_use(script):
    # -S: no site-packages, as for a system Python without numpy, tqdm, ...
    result = subprocess.run(
        [sys.executable, "-S", str(ROOT / "scripts" / script), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not installed for" in result.stderr
    assert f"run it with the project's Python: .venv/bin/python scripts/{script} --help" in result.stderr


def test_the_readme_runs_scripts_with_the_projects_python():
    readme = (ROOT / "README.md").read_text()
    assert not re.findall(r"(?<![\w/])python scripts/", readme)
    assert ".venv/bin/python scripts/train.py" in readme


def test_evaluate_into_a_closed_pipe_ends_quietly(finished_run):
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorgrad.cli.evaluate", str(finished_run), "--json", "--no-download"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    process.stdout.close()  # `| head` that has already read all it wanted
    stderr = process.stderr.read().decode()
    assert process.wait() == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "Exception ignored" not in stderr


def test_run_command_reports_a_broken_pipe_as_141():
    from tensorgrad.cli import argtypes

    def print_into_a_closed_pipe() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    real_stdout = sys.stdout
    sys.stdout = io.StringIO()
    try:
        assert argtypes.run_command("prog", print_into_a_closed_pipe) == 141
    finally:
        sys.stdout = real_stdout


@pytest.mark.parametrize("command, model", [("", "mlp"), (" --model cnn", "cnn")])
def test_the_readme_results_table_is_what_its_script_prints(command, model):
    epochs = config_for(model).epochs  # the table is of the model's defaults
    readme = (ROOT / "README.md").read_text()
    assert f"`.venv/bin/python scripts/results_table.py{command}`" in readme
    script = load_script("results_table.py")
    header = script.HEADER.format(epochs=epochs)
    block = re.search(re.escape(header) + r"\n((?:\|.*\|\n)+)", readme)
    assert block, "README has no results table in the script's format"
    rows = []
    for line in block.group(1).splitlines():
        seed, accuracy, epoch, seconds = re.fullmatch(
            r"\| (\d+) \| ([\d.]+)% \| (\d+) \| (\d+) s \|", line
        ).groups()
        rows.append(
            {
                "seed": int(seed),
                "test_accuracy": float(accuracy) / 100,
                "best_epoch": int(epoch),
                "wall_seconds": float(seconds),
            }
        )
    assert [row["seed"] for row in rows] == [0, 1, 2]
    assert script.format_table(rows, epochs) + "\n" == header + "\n" + block.group(1)
    median = script.format_median(rows).rsplit(": ", 1)[1]
    assert f"test accuracy **{median}** (median over seeds 0, 1, 2)" in readme
