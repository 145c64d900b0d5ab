"""Time a Hessian-vector product of the paper's MLP against one gradient, in tensorgrad and in PyTorch.

    python benchmarks/hvp.py                        # batch 128, 30 interleaved rounds
    python benchmarks/hvp.py --steps 50 --json hvp.json

The network is 784-196-64-10 (ReLU, dropout off, softmax cross-entropy + L2, float32) on a random batch;
the derivatives are taken with respect to all of its ~167k parameters. One gradient is a forward pass and
`autograd.grad(loss, params)`; the HVP is a forward pass, `autograd.grad(..., create_graph=True)` and a
second backward of <grad, v>. PyTorch does the same double backward with
`torch.autograd.grad`, and forward-over-reverse with `torch.func.jvp(torch.func.grad(f))`. All start from
the same weights, batch and vector. The methods take turns round by round, in rotating order; each ratio
is the median of the round-by-round ratios hvp-time / gradient-time of one library.

Both libraries run their matrix products on one thread (unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say
otherwise): on a shared 2-core machine a second BLAS thread mostly waits for a core, and the timings turn
into noise (a gradient took 170-220 ms with NumPy's default threads under load, 23 ms on one).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before NumPy (and PyTorch) load their BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tensorgrad as tg  # noqa: E402
from tensorgrad.models import MLP  # noqa: E402

SIZES = (784, 196, 64, 10)
L2 = 1e-4


class TensorgradHVP:
    library = "tensorgrad"

    def __init__(self, state, x, y, vector):
        self.model = MLP(SIZES, keep_prob=1.0, rng=0)
        self.model.load_state_dict(state)
        self.params = list(self.model.parameters())
        self.x, self.y = tg.tensor(x), tg.tensor(y)
        self.vector = [tg.tensor(v) for v in vector]

    def gradient(self):
        loss = self.model.loss(self.x, self.y, l2=L2)
        return tg.autograd.grad(loss, self.params)

    def hvp(self):
        loss = self.model.loss(self.x, self.y, l2=L2)
        grads = tg.autograd.grad(loss, self.params, create_graph=True)
        inner = grads[0].reshape(-1) @ self.vector[0].reshape(-1)
        for g, v in zip(grads[1:], self.vector[1:]):
            inner = inner + g.reshape(-1) @ v.reshape(-1)
        return tg.autograd.grad(inner, self.params)


class TorchHVP:
    library = "torch"

    def __init__(self, state, x, y, vector):
        import torch

        self.torch = torch
        self.model = torch.nn.Sequential(
            torch.nn.Linear(784, 196), torch.nn.ReLU(), torch.nn.Dropout(0.0),
            torch.nn.Linear(196, 64), torch.nn.ReLU(), torch.nn.Dropout(0.0),
            torch.nn.Linear(64, 10),
        )  # fmt: skip
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
        self.params = list(self.model.parameters())
        self.names = [name for name, _ in self.model.named_parameters()]
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.vector = [torch.from_numpy(v) for v in vector]

    def loss(self, outputs, weights):
        penalty = sum((w * w).sum() for w in weights) * (L2 / len(self.y) / 2)
        return self.torch.nn.functional.cross_entropy(outputs, self.y) + penalty

    def gradient(self):
        loss = self.loss(self.model(self.x), self.params[0::2])
        return self.torch.autograd.grad(loss, self.params)

    def hvp(self):
        torch = self.torch
        loss = self.loss(self.model(self.x), self.params[0::2])
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        inner = sum((g * v).sum() for g, v in zip(grads, self.vector))
        return torch.autograd.grad(inner, self.params)

    def hvp_forward_over_reverse(self):
        torch = self.torch

        def loss_of(params):
            outputs = torch.func.functional_call(self.model, params, (self.x,))
            return self.loss(outputs, [params[name] for name in self.names[0::2]])

        primals = {name: p.detach() for name, p in zip(self.names, self.params)}
        tangents = dict(zip(self.names, self.vector))
        _, product = torch.func.jvp(torch.func.grad(loss_of), (primals,), (tangents,))
        return [product[name] for name in self.names]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def max_relative_difference(ours, theirs) -> float:
    worst = 0.0
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)))
    return worst


def benchmark(steps: int, batch_size: int, with_torch: bool, seed: int = 0, log=print) -> dict:
    rng = np.random.default_rng(seed)
    state = MLP(SIZES, keep_prob=1.0, rng=seed).state_dict()
    x = rng.random((batch_size, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], batch_size)
    vector = [rng.standard_normal(v.shape).astype(np.float32) for v in state.values()]
    runners = [TensorgradHVP(state, x, y, vector)]
    if with_torch:
        runners.append(TorchHVP(state, x, y, vector))

    methods = []  # (library, what, callable)
    for runner in runners:
        methods += [(runner.library, "gradient", runner.gradient), (runner.library, "hvp", runner.hvp)]
        if runner.library == "torch":
            methods.append(("torch", "hvp (func.jvp of func.grad)", runner.hvp_forward_over_reverse))

    checks = {}
    if with_torch:  # the products agree: the benchmark times the same computation in both
        ours = [g.data for g in runners[0].hvp()]
        checks["hvp_max_relative_difference_vs_torch"] = max_relative_difference(
            ours, [g.numpy() for g in runners[1].hvp()]
        )
        checks["torch_double_backward_vs_forward_over_reverse"] = max_relative_difference(
            [g.numpy() for g in runners[1].hvp()], [g.numpy() for g in runners[1].hvp_forward_over_reverse()]
        )
    for _, _, fn in methods:  # warm-up: first calls pay for imports, caches and page faults
        fn()

    times = {(library, what): [] for library, what, _ in methods}
    for step in range(steps):
        shift = step % len(methods)
        for library, what, fn in methods[shift:] + methods[:shift]:
            times[library, what].append(timed(fn))
        if log and (step + 1) % max(1, steps // 5) == 0:
            log(f"round {step + 1}/{steps}")

    results = {}
    for library in dict.fromkeys(library for library, _, _ in methods):
        gradient = np.array(times[library, "gradient"])
        entry = {"gradient_ms": float(np.median(gradient) * 1e3)}
        for (lib, what), values in times.items():
            if lib != library or what == "gradient":
                continue
            values = np.array(values)
            ratios = values / gradient
            entry[f"{what}_ms"] = float(np.median(values) * 1e3)
            entry[f"{what}_over_gradient"] = float(np.median(ratios))
            entry[f"{what}_over_gradient_range"] = [float(ratios.min()), float(ratios.max())]
        results[library] = entry
    parameters = sum(v.size for v in state.values())
    return {
        "batch_size": batch_size,
        "steps": steps,
        "parameters": int(parameters),
        "results": results,
        **checks,
    }


def print_table(report: dict) -> None:
    print(f"Hessian-vector product vs one gradient: MLP {'-'.join(map(str, SIZES))}, "
          f"{report['parameters']:,} parameters, batch {report['batch_size']}, {report['steps']} rounds")  # fmt: skip
    print(f"{'library':<11} {'method':<28} {'ms':>8} {'gradient ms':>12} {'ratio':>7} {'(range)':>13}")
    for library, entry in report["results"].items():
        for key in entry:
            if not key.endswith("_over_gradient"):
                continue
            what = key[: -len("_over_gradient")]
            low, high = entry[f"{key}_range"]
            print(
                f"{library:<11} {what:<28} {entry[f'{what}_ms']:8.2f} {entry['gradient_ms']:12.2f} "
                f"{entry[key]:7.2f} {f'{low:.2f}-{high:.2f}':>13}"
            )
    for key in ("hvp_max_relative_difference_vs_torch", "torch_double_backward_vs_forward_over_reverse"):
        if key in report:
            print(f"{key.replace('_', ' ')}: {report[key]:.2e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed rounds (each runs every method once)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: timing tensorgrad alone", file=sys.stderr)
            with_torch = False
        else:
            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    report = benchmark(args.steps, args.batch_size, with_torch)
    report["machine"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": int(os.environ["OPENBLAS_NUM_THREADS"]),
    }
    if with_torch:
        report["machine"]["torch"] = torch.__version__
    print_table(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
