"""Shared argparse pieces: argument types that reject out-of-range values with a message naming the rule,
and the data options every command that reads Fashion-MNIST takes."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from ..data import DatasetError, DatasetNotFoundError, DownloadError, IDXError
from ..files import describe_os_error
from ..memory import keep_freed_memory
from ..optional import MissingDependencyError
from ..training import CheckpointError, ImageError, RunError
from ..training.models import ModelUnavailableError

#: the errors a command reports as one line (no traceback): bad files, missing data, a run folder in use
USER_ERRORS = (
    CheckpointError,
    RunError,
    DatasetError,
    IDXError,
    DownloadError,
    ImageError,
    MissingDependencyError,
    ModelUnavailableError,
    FileNotFoundError,
)

#: exit codes of every command (README lists them)
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: standard output was closed before everything was printed (`... | head`), as for a process killed by SIGPIPE
EXIT_BROKEN_PIPE = 128 + 13


def _number(text: str, kind, rule: str, ok) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
    return value


def positive_float(text: str) -> float:
    return _number(text, float, "> 0", lambda v: math.isfinite(v) and v > 0)


def nonnegative_float(text: str) -> float:
    return _number(text, float, ">= 0", lambda v: math.isfinite(v) and v >= 0)


def keep_probability(text: str) -> float:
    return _number(text, float, "in (0, 1]", lambda v: 0 < v <= 1)


def unit_interval_open_right(text: str) -> float:
    return _number(text, float, "in [0, 1)", lambda v: 0 <= v < 1)


def positive_int(text: str) -> int:
    return _number(text, int, ">= 1", lambda v: v >= 1)


def nonnegative_int(text: str) -> int:
    return _number(text, int, ">= 0", lambda v: v >= 0)


def run_folder(text: str) -> str:
    """A folder name: not empty (an empty name would mean the current directory without saying so)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty name")
    return text


def report_error(error: BaseException, prog: str, data_dir: str | None = None) -> int:
    """Print `error` on stderr the way argparse does (a missing data set in the command's own words: `data_dir`
    is the --data-dir given); return the exit code 1."""
    if isinstance(error, DatasetNotFoundError):
        if data_dir is not None:
            fix = f"put the four files in {data_dir}, or drop --data-dir to use the usual places (or a download)"
        else:
            fix = (
                f"run again without --no-download to download it into {error.download_dir}, or install "
                "Debian's copy with `sudo apt-get install dataset-fashion-mnist`"
            )
        message = error.explain(fix, root_note="--data-dir")
    elif isinstance(error, OSError) and not isinstance(error, DownloadError):
        message = describe_os_error(error)
    else:
        message = str(error)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_command(prog: str, body, data_dir: str | None = None) -> int:
    """Run `body()`, a command's work returning its exit code, with the error handling every command shares.

    Bad files, missing data and file-system errors are one line on stderr (exit 1); Ctrl-C outside a training
    run prints "interrupted" (exit 130); a closed standard output (`| head`) ends the command quietly
    (exit 141). The allocator keeps freed memory for reuse (`tensorgrad.memory.keep_freed_memory`).
    """
    keep_freed_memory()
    try:
        code = body()
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it would print a traceback
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except (*USER_ERRORS, OSError) as error:
        return report_error(error, prog, data_dir)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _discard_stdout() -> None:
    # Python would flush stdout again at exit and fail on the closed pipe: point it at /dev/null instead.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (stdout replaced, as in tests)
        pass


def add_checkpoint_argument(parser) -> None:
    """The positional `checkpoint`: a checkpoint file, or a run folder whose best.npz is meant."""
    parser.add_argument(
        "checkpoint",
        type=Path,
        metavar="RUN_DIR_OR_CHECKPOINT",
        help="a checkpoint (.npz), or a run folder (its best.npz is used)",
    )


def add_data_arguments(parser) -> None:
    """`--data-dir` and `--no-download` (dest `download`), on a parser or an argument group."""
    parser.add_argument(
        "--data-dir",
        help="read the four Fashion-MNIST files from this folder (it must hold them); without it they are "
        "looked for in the usual places (see tensorgrad.data), or downloaded",
    )
    parser.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="fail instead of downloading the data if it is not found",
    )
