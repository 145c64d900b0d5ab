"""The `tensorgrad` command: its subcommands are the tools, with the same parsers, under one name."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import tensorgrad
from tensorgrad.cli import evaluate, export, predict, train
from tensorgrad.cli.main import COMMANDS, main

TOOLS = {"train": train, "evaluate": evaluate, "predict": predict, "export": export}


def run(argv, capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `tensorgrad *argv`, in process."""
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    assert run(["--version"], capsys) == (0, f"tensorgrad {tensorgrad.__version__}\n", "")
    assert tensorgrad.__version__ == "0.1.0"


def test_help_lists_every_command(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert set(COMMANDS) == {"train", "evaluate", "predict", "export", "draw"}
    for name, (_, summary) in COMMANDS.items():
        assert re.search(rf"^ +{name} +{re.escape(summary)}$", out, re.M), name


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_a_subcommand_has_the_help_of_its_tool_under_its_own_name(name, capsys):
    code, out, _ = run([name, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: tensorgrad {name} ")
    assert out == TOOLS[name].build_parser(prog=f"tensorgrad {name}").format_help()
    # and the tool's own entry point keeps its name
    assert TOOLS[name].build_parser().format_help().startswith(f"usage: tensorgrad-{name} ")


def test_draw_has_its_flags(capsys):
    code, out, _ = run(["draw", "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: tensorgrad draw ")
    for flag in ("--out", "--rankdir", "--grad-norm", "--batch-size", "--seed"):
        assert flag in out


def test_a_subcommand_reports_bad_flags_under_its_name(capsys):
    code, _, err = run(["train", "--lr", "-1"], capsys)
    assert code == 2
    assert "tensorgrad train: error: argument --lr: must be > 0" in err


@pytest.mark.parametrize(
    ("argv", "complaint"), [([], "required: COMMAND"), (["fit"], "invalid choice: 'fit'")]
)
def test_no_command_or_an_unknown_one_is_an_error(argv, complaint, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2
    assert complaint in err


def test_the_module_runs_as_a_program():
    result = subprocess.run(
        [sys.executable, "-m", "tensorgrad.cli.main", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, f"tensorgrad {tensorgrad.__version__}\n")
