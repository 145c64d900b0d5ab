"""The engine's own cost per op: microseconds to record an op and run its backward, on tiny tensors.

    python benchmarks/op_overhead.py            # a chain of 10,000 ops, best of 5
    python benchmarks/op_overhead.py --json overhead.json

On one-element tensors the NumPy work is negligible, so what is measured is the engine's Python overhead:
creating the node and output tensor, walking the graph, accumulating gradients. Each figure is also given
as a ratio to the same arithmetic done with bare NumPy in the same process (these machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import tensorgrad as tg


def chain(x, length: int):
    """`length` recorded ops: alternating multiply and add, like a long elementwise computation."""
    for _ in range(length // 2):
        x = x * 1.0001
        x = x + 0.5
    return x


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(length: int, repeats: int) -> dict:
    data = np.ones(1, dtype=np.float32)

    def numpy_forward():
        chain(data, length)

    def recorded_forward():
        chain(tg.tensor(data, requires_grad=True), length)

    def forward_and_backward():
        chain(tg.tensor(data, requires_grad=True), length).sum().backward()

    def no_grad_forward():
        with tg.no_grad():
            chain(tg.tensor(data, requires_grad=True), length)

    def constant_forward():
        chain(tg.tensor(data), length)  # nothing requires grad: nothing is recorded either

    seconds = {
        "numpy": best_of(repeats, numpy_forward),
        "forward (recorded)": best_of(repeats, recorded_forward),
        "forward + backward": best_of(repeats, forward_and_backward),
        "forward under no_grad": best_of(repeats, no_grad_forward),
        "forward, no input requires grad": best_of(repeats, constant_forward),
    }
    per_op_us = {name: 1e6 * s / length for name, s in seconds.items()}
    per_op_us["backward only"] = per_op_us["forward + backward"] - per_op_us["forward (recorded)"]
    ratios = {name: us / per_op_us["numpy"] for name, us in per_op_us.items()}
    return {"ops": length, "microseconds_per_op": per_op_us, "ratio_to_numpy": ratios}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=10_000, help="ops in the chain")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    result = measure(args.length, args.repeats)
    print(f"{'':34}{'us/op':>8}  {'x numpy':>8}")
    for name, us in result["microseconds_per_op"].items():
        print(f"{name:34}{us:8.2f}  {result['ratio_to_numpy'][name]:8.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
