"""Train a model with its defaults for a few seeds on the real Fashion-MNIST and print README's results table.

.venv/bin/python scripts/results_table.py                 # seeds 0 1 2, about a minute each on 2 cores
.venv/bin/python scripts/results_table.py --seeds 0 1 2 3
.venv/bin/python scripts/results_table.py --model cnn     # the CNN's defaults: about 15 minutes a seed

The table is printed in Markdown, as README shows it, after a line with the median test accuracy; the runs go
to a temporary folder (or --out) and each one's epoch lines to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
from pathlib import Path

# A checkout that was not installed: the package sits next to scripts/.
if importlib.util.find_spec("tensorgrad") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
try:
    from tensorgrad.cli import argtypes as types
    from tensorgrad.training import MODELS, config_for, train_run
except ModuleNotFoundError as missing:  # the system Python, say, rather than the project's .venv
    sys.exit(
        f"{Path(__file__).name}: {missing.name} is not installed for {sys.executable}; run it with the "
        f"project's Python: .venv/bin/python scripts/{Path(__file__).name} " + " ".join(sys.argv[1:])
    )

HEADER = "| seed | test accuracy | epoch chosen (of {epochs}) | wall time |\n|---|---|---|---|"


def format_table(rows: list[dict], epochs: int) -> str:
    """The Markdown table of `rows` ({"seed", "test_accuracy", "best_epoch", "wall_seconds"} each)."""
    lines = [HEADER.format(epochs=epochs)]
    for row in rows:
        lines.append(
            f"| {row['seed']} | {row['test_accuracy']:.2%} | {row['best_epoch']} | {row['wall_seconds']:.0f} s |"
        )
    return "\n".join(lines)


def format_median(rows: list[dict]) -> str:
    seeds = ", ".join(str(row["seed"]) for row in rows)
    median = statistics.median(row["test_accuracy"] for row in rows)
    return f"median test accuracy over seeds {seeds}: {median:.2%}"


def main(argv=None) -> int:
    """Train one run per seed with the model's defaults and print the table; returns the exit code."""
    parser = argparse.ArgumentParser(prog="results_table.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=types.nonnegative_int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", choices=tuple(MODELS), default="mlp", help="(default: mlp)")
    parser.add_argument(
        "--out", type=types.run_folder, help="keep the run folders here (default: a temporary one)"
    )
    args = parser.parse_args(argv)

    def work() -> int:
        with tempfile.TemporaryDirectory(prefix="results-table-") as scratch:
            base = Path(args.out) if args.out is not None else Path(scratch)
            rows = []
            for seed in args.seeds:
                config = config_for(args.model, seed=seed)  # what `tensorgrad train --model` runs
                outcome = train_run(config, base / f"seed-{seed}", log=_to_stderr, progress=False)
                if outcome.exit_code != 0:
                    return outcome.exit_code
                rows.append({"seed": seed, **outcome.results})
        print(format_median(rows))
        print()
        print(format_table(rows, config.epochs))
        return 0

    return types.run_command(parser.prog, work)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
