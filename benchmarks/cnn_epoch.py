"""Time a training epoch of a small CNN in tensorgrad and in PyTorch (CPU, 2 threads each), interleaved.

    python benchmarks/cnn_epoch.py --limit 0.1                 # batch 128 and 32, a tenth of an epoch each
    python benchmarks/cnn_epoch.py --batch-sizes 128 --epochs 3 --json results.json

The network is `models.CNN`'s default: conv 1->32 3x3 pad 1, max pool 2, BN, ReLU; conv 32->64 3x3 pad 1,
max pool 2, BN, ReLU; flatten; linear 3136->128, ReLU, dropout 0.3; linear 128->10; softmax cross-entropy,
Adam, float32, on Fashion-MNIST's training images (or synthetic data of that shape with --data synthetic).
`--threads` (default 2) is given to torch.set_num_threads and to tensorgrad's `set_num_threads`.
Both start from the same weights (tensorgrad's state dict loaded into the torch.nn.Sequential) and see the
same batches in the same order; they take turns `--chunks` times an epoch, the order rotating, and each
ratio is the median of the epoch-by-epoch ratios. Also reported: the share of the epoch the convolutions'
FLOPs would take at the machine's matmul peak (np.matmul on a large square product), and the peak of
traced allocations of one training step at the first batch size.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
from mlp_epoch import (  # the script beside this one
    load_training_data,
    paired_ratio,
    ratio_range,
    run_epoch,
    timed_turns,
    traced_peak_bytes,
)

from tensorgrad import functional as F
from tensorgrad import optim
from tensorgrad.memory import keep_freed_memory
from tensorgrad.models import CNN
from tensorgrad.parallel import get_num_threads, set_num_threads

LR = 1e-3
IMAGE = (1, 28, 28)
#: (in channels, out channels, kernel, input side) of the three convolutions; padding 1 keeps the side
CONVOLUTIONS = ((1, 32, 3, 28), (32, 64, 3, 14), (64, 64, 3, 7))


class TensorgradRunner:
    name = "tensorgrad"

    def __init__(self, initial_state, seed):
        self.model = CNN(rng=seed)
        self.model.load_state_dict(initial_state)
        self.optimizer = optim.Adam(self.model.parameters(), lr=LR)

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss


def torch_cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )  # fmt: skip


class TorchRunner:
    name = "torch"

    def __init__(self, initial_state, seed):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        self.model = torch_cnn(torch)
        self.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in initial_state.items()})
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)

    def step(self, x, y):
        torch = self.torch
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss


def conv_flops_per_epoch(n: int) -> float:
    """Multiply-adds x2 of the convolutions' forward, weight gradient and input gradient (none for the
    first, whose input is the data)."""
    total = 0.0
    for layer, (c_in, c_out, k, side) in enumerate(CONVOLUTIONS):
        products = 3 if layer else 2
        total += products * 2.0 * n * side * side * c_out * c_in * k * k
    return total


def matmul_peak_gflops(size: int = 1024, repeats: int = 5) -> float:
    """float32 GFLOP/s of np.matmul on a large square product, the best of `repeats`: the machine's peak.

    (The convolutions' own, thinner shapes are no steady yardstick: on two OpenBLAS threads of a busy
    machine some of them run a hundred times slower from one call to the next.)
    """
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def traced_step_peak_bytes(runner, x, y, batch_size, steps=3) -> int:
    """Peak of NumPy/Python allocations during a few training steps, the optimizer's state made first."""
    runner.step(x[:batch_size], y[:batch_size])
    return traced_peak_bytes(runner, x, y, batch_size, steps)


def benchmark(batch_sizes, epochs, data, limit=1.0, seed=0, chunks=2, examples=60000, log=print) -> dict:
    x, y = load_training_data(data, examples)
    x = x.reshape(-1, *IMAGE)
    initial_state = CNN(rng=seed).state_dict()
    steps_in_epoch = max(1, round(limit * len(x)))
    results = {}
    for batch_size in batch_sizes:
        runners = [TensorgradRunner(initial_state, seed), TorchRunner(initial_state, seed)]
        times = {r.name: [] for r in runners}
        order_rng = np.random.default_rng(seed)
        for runner in runners:  # untimed warm-up steps at this batch size
            run_epoch(runner, x, y, np.arange(len(x))[: 5 * batch_size], batch_size)
        for epoch in range(epochs):
            order = order_rng.permutation(len(x))[:steps_in_epoch]
            elapsed = timed_turns(runners, x, y, order, batch_size, chunks, epoch)
            for name, seconds in elapsed.items():
                times[name].append(seconds)
            log(
                f"batch {batch_size} epoch {epoch + 1}: "
                + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
            )
        medians = {name: float(np.median(t)) for name, t in times.items()}
        threads = get_num_threads()
        set_num_threads(
            1
        )  # the peak of BLAS on all its threads, not on the one tensorgrad's kernels leave it
        gflops = matmul_peak_gflops()
        set_num_threads(threads)
        lower_bound = conv_flops_per_epoch(steps_in_epoch) / (gflops * 1e9)
        results[batch_size] = {
            "examples_per_epoch": steps_in_epoch,
            "median_epoch_seconds": medians,
            "epoch_seconds": times,
            "tensorgrad_over_torch": paired_ratio(times["tensorgrad"], times["torch"]),
            "tensorgrad_over_torch_range": ratio_range(times["tensorgrad"], times["torch"]),
            "matmul_peak_gflops": gflops,
            "conv_matmul_lower_bound_seconds": lower_bound,
            "conv_share_of_matmul_peak": {name: lower_bound / m for name, m in medians.items()},
        }
    first = batch_sizes[0]
    results[first]["traced_step_peak_mib"] = (
        traced_step_peak_bytes(TensorgradRunner(initial_state, seed), x, y, first) / 2**20
    )
    return results


def print_table(results: dict) -> None:
    print(
        f"{'batch':>5}  {'tensorgrad':>10}  {'torch':>8}  {'tg/torch':>8}  {'(range)':>11}  {'conv FLOPs at matmul peak':>25}"
    )
    for batch_size, r in results.items():
        m = r["median_epoch_seconds"]
        low, high = r["tensorgrad_over_torch_range"]
        share = r["conv_share_of_matmul_peak"]
        print(
            f"{batch_size:>5}  {m['tensorgrad']:10.2f}  {m['torch']:8.2f}  {r['tensorgrad_over_torch']:8.3f}  "
            f"{f'{low:.2f}-{high:.2f}':>11}  {100 * share['tensorgrad']:7.1f}% of tg, {100 * share['torch']:5.1f}% of torch"
        )
    print(
        "seconds per (partial) epoch, median; tg/torch: median of epoch-by-epoch ratios, (range) its spread;\n"
        "last column: the time the convolutions' FLOPs take at np.matmul's peak (a large square product), as a\n"
        "share of each epoch"
    )
    for batch_size, r in results.items():
        if "traced_step_peak_mib" in r:
            print(
                f"batch {batch_size}: traced allocation peak of a training step: {r['traced_step_peak_mib']:.1f} MiB"
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--epochs", type=int, default=3, help="timed (partial) epochs per batch size")
    parser.add_argument(
        "--limit", type=float, default=0.1, help="the fraction of an epoch each timed epoch runs"
    )
    parser.add_argument("--chunks", type=int, default=4, help="turns each implementation takes per epoch")
    parser.add_argument("--data", choices=("fashion-mnist", "synthetic"), default="fashion-mnist")
    parser.add_argument("--examples", type=int, default=60000, help="training examples to draw epochs from")
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of each: torch.set_num_threads, tg.set_num_threads"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the tensorgrad commands do; it serves every implementation in the process
    if not 0 < args.limit <= 1:
        parser.error(f"--limit must be in (0, 1], got {args.limit}")
    try:
        import torch
    except ImportError:
        print(
            "cnn_epoch: PyTorch is needed for the comparison (scripts/setup.sh installs it)", file=sys.stderr
        )
        return 1
    torch.set_num_threads(args.threads)
    set_num_threads(args.threads)  # tensorgrad's kernels on as many threads, NumPy's BLAS on one meanwhile
    results = benchmark(
        args.batch_sizes, args.epochs, args.data, args.limit, chunks=args.chunks, examples=args.examples
    )
    print_table(results)
    if args.json:
        meta = {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "threads": args.threads,
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
