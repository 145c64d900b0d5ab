"""`tensorgrad`: one command for the tools, `tensorgrad COMMAND [flags]`; `tensorgrad COMMAND --help` for each.

Each command is the tool of the same name (`tensorgrad train` is `tensorgrad-train`, with the same parser and
flags); its module is imported only when it runs, so `tensorgrad --version` needs NumPy alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

#: command -> (its module in tensorgrad.cli, one line for the overview)
COMMANDS = {
    "train": ("train", "train a Fashion-MNIST model and write a run folder"),
    "evaluate": ("evaluate", "test-set accuracy of a checkpoint or run folder"),
    "predict": ("predict", "classify image files with a checkpoint or run folder"),
    "export": ("export", "export a checkpoint or run folder to an ONNX model"),
    "draw": ("draw", "draw the graph of one training step of the MLP"),
}


def build_parser() -> argparse.ArgumentParser:
    """The overview parser: `--help`, `--version` and the list of commands (each parses its own flags)."""
    parser = argparse.ArgumentParser(
        prog="tensorgrad",
        description="tensorgrad's command-line tools. `tensorgrad COMMAND --help` lists a command's flags.",
    )
    parser.add_argument("--version", action="version", version=f"tensorgrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv=None) -> int:
    """Run `tensorgrad` with `argv` (default: the command line); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # --help, --version, or an error naming the commands: all exit
        return 2  # (not reached)
    module_name, _ = COMMANDS[argv[0]]
    command = importlib.import_module(f"{__package__}.{module_name}")
    return command.main(argv[1:], prog=f"tensorgrad {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
