"""`tensorgrad-evaluate`: test-set accuracy, loss and per-class accuracy of a saved checkpoint."""

from __future__ import annotations

import argparse
import json
import sys

from ..training import evaluate_checkpoint
from . import argtypes as types


def build_parser(prog: str = "tensorgrad-evaluate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Evaluate a checkpoint on the Fashion-MNIST test set (10,000 images).",
    )
    types.add_checkpoint_argument(parser)
    types.add_data_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def main(argv=None, prog: str = "tensorgrad-evaluate") -> int:
    """Run `tensorgrad-evaluate` with `argv` (default: the command line); returns the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    return types.run_command(parser.prog, lambda: _evaluate(args), data_dir=args.data_dir)


def _evaluate(args) -> int:
    results = evaluate_checkpoint(args.checkpoint, data_dir=args.data_dir, download=args.download)
    print(results["data"], file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"checkpoint     {results['checkpoint']} (epoch {results['epoch']})")
    print(f"test accuracy  {results['test_accuracy']:.2%}")
    print(f"test loss      {results['test_loss']:.4f}")
    print("per-class accuracy:")
    for name, accuracy in results["per_class_accuracy"].items():
        print(f"  {name:<12} {'-' if accuracy is None else f'{accuracy:.2%}':>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
