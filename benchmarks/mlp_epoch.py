"""Time a training epoch of the paper's MLP three ways, interleaved: tensorgrad, hand-written NumPy, PyTorch.

    python benchmarks/mlp_epoch.py                      # batch 32, 128 and 512, 6 timed epochs each
    python benchmarks/mlp_epoch.py --batch-sizes 128 --epochs 5 --json results.json

The network is 784-196-64-10 (ReLU, dropout keep 0.9, softmax cross-entropy + L2, Adam, float32) on the
60,000 Fashion-MNIST training images (or synthetic data of the same shape with --data synthetic). All
implementations start from the same weights and see the same batches in the same order. Their epochs
take turns epoch by epoch (A, B, C, then B, C, A, ...: the order rotates) so that machine drift hits each
alike; each ratio is the median of the epoch-by-epoch ratios. `--chunks N` takes turns N times an epoch. PyTorch is optional: it is used when importable.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

from tensorgrad import optim
from tensorgrad.memory import keep_freed_memory
from tensorgrad.models import MLP
from tensorgrad.models.numpy_reference import HandwrittenMLPTrainer

SIZES = (784, 196, 64, 10)
KEEP_PROB = 0.9
L2 = 1e-4
LR = 1e-3


class TensorgradRunner:
    name = "tensorgrad"

    def __init__(self, initial_state, seed):
        self.model = MLP(SIZES, keep_prob=KEEP_PROB, rng=seed)
        self.model.load_state_dict(initial_state)
        self.optimizer = optim.Adam(self.model.parameters(), lr=LR)

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = self.model.loss(x, y, l2=L2)
        loss.backward()
        self.optimizer.step()
        return loss


class NumpyRunner:
    name = "numpy"

    def __init__(self, initial_state, seed):
        layers = [(initial_state[f"{i}.weight"].copy(), initial_state[f"{i}.bias"].copy()) for i in (0, 3, 6)]
        self.trainer = HandwrittenMLPTrainer(layers, keep_prob=KEEP_PROB, l2=L2, lr=LR, rng=seed)

    def step(self, x, y):
        return self.trainer.step(x, y)


class TorchRunner:
    name = "torch"

    def __init__(self, initial_state, seed):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        p = round(1 - KEEP_PROB, 12)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(784, 196), torch.nn.ReLU(), torch.nn.Dropout(p),
            torch.nn.Linear(196, 64), torch.nn.ReLU(), torch.nn.Dropout(p),
            torch.nn.Linear(64, 10),
        )  # fmt: skip
        # tensorgrad's state dict loads into the equivalent torch.nn.Sequential key for key
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in initial_state.items()})
        self.weights = [self.model[i].weight for i in (0, 3, 6)]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)

    def step(self, x, y):
        torch = self.torch
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(x), y)
        loss = loss + L2 / (2 * len(y)) * sum((w * w).sum() for w in self.weights)
        loss.backward()
        self.optimizer.step()
        return loss


def load_training_data(kind: str, examples: int = 60000):
    """The training images (float32 in [0, 1]) and labels: Fashion-MNIST's, or random ones of that shape."""
    if kind == "synthetic":
        rng = np.random.default_rng(0)
        return rng.random((examples, 784), dtype=np.float32), rng.integers(0, 10, examples)
    from tensorgrad.data import load_fashion_mnist, to_float32

    data = load_fashion_mnist(download=False)
    return to_float32(data.train_images[:examples]), data.train_labels[:examples]


def run_epoch(runner, x, y, order, batch_size) -> float:
    start = time.perf_counter()
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        runner.step(x[index], y[index])
    return time.perf_counter() - start


def timed_turns(runners, x, y, order, batch_size, chunks, epoch) -> dict:
    """One epoch over `order` for each runner, in `chunks` slices the runners take turns at; {name: seconds}.

    Who goes first rotates: an implementation's threads may still spin after its turn (OpenMP, OpenBLAS)
    and slow whoever follows, so each should follow each other equally often.
    """
    steps = -(-len(order) // batch_size)
    bounds = [round(steps * k / chunks) * batch_size for k in range(chunks + 1)]
    elapsed = {runner.name: 0.0 for runner in runners}
    for k, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        turn = (epoch * chunks + k) % len(runners)
        for runner in runners[turn:] + runners[:turn]:
            elapsed[runner.name] += run_epoch(runner, x, y, order[start:stop], batch_size)
    return elapsed


def traced_peak_bytes(runner, x, y, batch_size, steps=30) -> int:
    """Peak of NumPy/Python allocations over a few steps (tracemalloc; blind to PyTorch's allocator)."""
    tracemalloc.start()
    try:
        for i in range(steps):
            index = np.arange(i * batch_size, (i + 1) * batch_size) % len(x)
            runner.step(x[index], y[index])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def matmul_flops_per_epoch(batch_size: int, n: int) -> float:
    """Multiply-adds x2 of the forward and backward matrix products (no input gradient for layer 1)."""
    total = 0.0
    for layer, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        products = 3 if layer else 2  # forward, weight gradient, and input gradient except for the input
        total += products * 2.0 * n * fan_in * fan_out
    return total


def sustained_matmul_gflops(batch_size: int, repeats: int = 50) -> float:
    """float32 GFLOP/s of np.matmul on this step's own shapes, forward and backward."""
    rng = np.random.default_rng(0)
    shapes = []
    for layer, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        shapes.append(((batch_size, fan_in), (fan_in, fan_out)))  # forward
        shapes.append(((fan_out, batch_size), (batch_size, fan_in)))  # weight gradient
        if layer:
            shapes.append(((batch_size, fan_out), (fan_out, fan_in)))  # input gradient
    arrays = [(rng.random(a, dtype=np.float32), rng.random(b, dtype=np.float32)) for a, b in shapes]
    flops = sum(2.0 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in arrays)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            for a, b in arrays:
                np.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return flops * repeats / best / 1e9


def paired_ratio(a: list, b: list) -> float:
    """Median over epochs of a[i] / b[i]: epochs i of the two ran back to back, so each ratio sees the
    same machine state, and the median discards the epochs a noisy neighbour disturbed."""
    return float(np.median(np.asarray(a) / np.asarray(b)))


def ratio_range(a: list, b: list) -> list:
    """[lowest, highest] of the epoch-by-epoch ratios a[i] / b[i]: how much the machine's noise moved them."""
    ratios = np.asarray(a) / np.asarray(b)
    return [float(ratios.min()), float(ratios.max())]


def make_runners(initial_state, seed, with_torch: bool):
    runners = [TensorgradRunner(initial_state, seed), NumpyRunner(initial_state, seed)]
    if with_torch:
        runners.append(TorchRunner(initial_state, seed))
    return runners


def benchmark(batch_sizes, epochs, data, with_torch, seed=0, chunks=1, examples=60000, log=print) -> dict:
    x, y = load_training_data(data, examples)
    initial_state = MLP(SIZES, rng=seed).state_dict()
    results = {}
    for batch_size in batch_sizes:
        runners = make_runners(initial_state, seed, with_torch)
        times = {r.name: [] for r in runners}
        order_rng = np.random.default_rng(seed)
        for runner in runners:  # untimed warm-up steps at this batch size
            run_epoch(runner, x, y, np.arange(len(x))[: 20 * batch_size], batch_size)
        for epoch in range(epochs):
            order = order_rng.permutation(len(x))
            elapsed = timed_turns(runners, x, y, order, batch_size, chunks, epoch)
            for name, seconds in elapsed.items():
                times[name].append(seconds)
            log(
                f"batch {batch_size} epoch {epoch + 1}: "
                + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items())
            )
        medians = {name: float(np.median(t)) for name, t in times.items()}
        gflops = sustained_matmul_gflops(batch_size)
        lower_bound = matmul_flops_per_epoch(batch_size, len(x)) / (gflops * 1e9)
        entry = {
            "median_epoch_seconds": medians,
            "epoch_seconds": times,
            "tensorgrad_over_numpy": paired_ratio(times["tensorgrad"], times["numpy"]),
            "tensorgrad_over_numpy_range": ratio_range(times["tensorgrad"], times["numpy"]),
            "matmul_gflops": gflops,
            "matmul_lower_bound_seconds": lower_bound,
            "fraction_of_matmul_peak": {name: lower_bound / m for name, m in medians.items()},
            "traced_peak_mib": {
                r.name: traced_peak_bytes(r, x, y, batch_size) / 2**20 for r in runners if r.name != "torch"
            },
        }
        if "torch" in medians:
            entry["tensorgrad_over_torch"] = paired_ratio(times["tensorgrad"], times["torch"])
        results[batch_size] = entry
    return results


def print_table(results: dict) -> None:
    header = (
        f"{'batch':>5}  {'tensorgrad':>10}  {'numpy':>8}  {'torch':>8}  {'tg/numpy':>8}  {'(range)':>11}  "
        f"{'tg/torch':>8}  {'tg % of matmul peak':>19}"
    )
    print(header)
    for batch_size, r in results.items():
        m = r["median_epoch_seconds"]
        torch_time = f"{m['torch']:8.3f}" if "torch" in m else f"{'-':>8}"
        torch_ratio = f"{r['tensorgrad_over_torch']:8.3f}" if "tensorgrad_over_torch" in r else f"{'-':>8}"
        low, high = r["tensorgrad_over_numpy_range"]
        print(
            f"{batch_size:>5}  {m['tensorgrad']:10.3f}  {m['numpy']:8.3f}  {torch_time}  "
            f"{r['tensorgrad_over_numpy']:8.3f}  {f'{low:.2f}-{high:.2f}':>11}  {torch_ratio}  "
            f"{100 * r['fraction_of_matmul_peak']['tensorgrad']:18.1f}%"
        )
    print(
        "seconds per epoch (median); ratios are medians of epoch-by-epoch ratios, < 1: tensorgrad is faster;\n"
        "(range): the lowest and highest epoch-by-epoch tensorgrad / NumPy ratio, the noise of this run"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument(
        "--epochs", type=int, default=6, help="timed epochs per implementation and batch size"
    )
    parser.add_argument(
        "--chunks",
        type=int,
        default=1,
        help="take turns this many times per epoch (default: whole epochs; more slices cancel drift better "
        "but add a cache warm-up at every turn, which a real training run does not have)",
    )
    parser.add_argument("--data", choices=("fashion-mnist", "synthetic"), default="fashion-mnist")
    parser.add_argument(
        "--examples", type=int, default=60000, help="training examples an epoch (quick checks)"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the tensorgrad commands do; it serves every implementation in the process

    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch
        except ImportError:
            print(
                "PyTorch is not installed: comparing tensorgrad with hand-written NumPy only", file=sys.stderr
            )
            with_torch = False
        else:
            torch.set_num_threads(2)
    results = benchmark(
        args.batch_sizes, args.epochs, args.data, with_torch, chunks=args.chunks, examples=args.examples
    )
    print_table(results)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole process: {peak_rss_mib:.0f} MiB")
    for batch_size, r in results.items():
        traced = ", ".join(f"{k} {v:.1f} MiB" for k, v in r["traced_peak_mib"].items())
        print(f"batch {batch_size}: traced allocation peak over 30 steps: {traced}; "
              f"matmul {r['matmul_gflops']:.0f} GFLOP/s -> lower bound {r['matmul_lower_bound_seconds']:.3f}s")  # fmt: skip
    if args.json:
        meta = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "peak_rss_mib": peak_rss_mib, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
