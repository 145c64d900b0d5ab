"""Shared argparse pieces: argument types that reject out-of-range values with a message naming the rule,
and the data options every command that reads Fashion-MNIST takes."""

from __future__ import annotations

import argparse
import math
import sys

from ..data import DatasetError, DownloadError, IDXError
from ..training import CheckpointError, RunError

#: the errors a command reports as one line (no traceback): bad files, missing data, a run folder in use
USER_ERRORS = (CheckpointError, RunError, DatasetError, IDXError, DownloadError, FileNotFoundError)


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


def report_error(error: BaseException, prog: str) -> int:
    """Print `error` as one line on stderr, the way argparse does; return the exit code 1."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 1


def add_data_arguments(parser) -> None:
    """`--data-dir` and `--no-download` (dest `download`), on a parser or an argument group."""
    parser.add_argument(
        "--data-dir",
        help="look for the Fashion-MNIST files here first, then in the usual places (see tensorgrad.data); a download goes here",
    )
    parser.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="fail instead of downloading the data if it is not found",
    )
