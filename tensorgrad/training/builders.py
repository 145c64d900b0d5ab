"""Build a run's model, optimizer, learning-rate schedule, random generators and data from its `TrainConfig`."""

from __future__ import annotations

import numpy as np

from .. import optim
from ..models.mlp import MLP
from ..optim import lr_scheduler
from .config import TrainConfig

#: the independent random streams of a run, all derived from its seed
STREAMS = ("split", "loader", "model")


def seed_generators(seed: int) -> dict[str, np.random.Generator]:
    """One generator per stream of `STREAMS`, spawned from `seed` so that they never overlap.

    "split" draws the validation split, "loader" the order of the batches, "model" the initial weights and
    then the dropout masks.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def build_model(config: TrainConfig, rng: np.random.Generator | int | None = None):
    """The MLP of `config` (sizes, activation, keep_prob), initialized from `rng`."""
    return MLP(config.sizes, activation=config.activation, keep_prob=config.keep_prob, rng=rng)


def expected_state_shapes(config: TrainConfig) -> dict[str, tuple[int, ...]]:
    """The state dict shapes of `build_model(config)`, computed without building it (no memory needed).

    The MLP puts each hidden layer's Linear, activation and Dropout at indices 3i, 3i+1, 3i+2 and the output
    Linear after them, as the equivalent `torch.nn.Sequential` does: {"0.weight": (196, 784), "0.bias": ...}.
    """
    shapes = {}
    for index, (fan_in, fan_out) in enumerate(zip(config.sizes[:-1], config.sizes[1:])):
        shapes[f"{3 * index}.weight"] = (fan_out, fan_in)
        shapes[f"{3 * index}.bias"] = (fan_out,)
    return shapes


def load_dataset(data_dir: str | None = None, download: bool = True, progress: bool = True):
    """Fashion-MNIST for a run: from `data_dir` alone if it is given (a folder without the data set is an
    error, never a reason to use another copy), otherwise from the usual places or a download."""
    from ..data import load_fashion_mnist

    if data_dir is not None:
        return load_fashion_mnist(data_dir, download=False, only_root=True, progress=progress)
    return load_fashion_mnist(None, download=download, progress=progress)


def describe_source(dataset) -> str:
    """Where a loaded data set came from, for the log: "data: <folder>" or "data: downloaded into <folder>"."""
    return f"data: {'downloaded into ' if dataset.downloaded else ''}{dataset.source}"


def build_optimizer(config: TrainConfig, params) -> optim.Optimizer:
    """The optimizer of `config`: "sgd" (plain), "momentum" (the paper's averaged momentum) or "adam"."""
    params = list(params)
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr)
    if config.optimizer == "momentum":
        return optim.Momentum(params, lr=config.lr, beta=config.momentum)
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


def build_scheduler(config: TrainConfig, optimizer: optim.Optimizer) -> lr_scheduler.LRScheduler:
    """The learning-rate schedule of `config` on `optimizer`, stepped once per epoch: epoch e (from 1) trains
    at the rate it holds after e - 1 steps.

    "cosine" anneals from `config.lr` towards 0 over the epochs (CosineAnnealingLR, T_max the epochs after the
    warm-up), "step" divides the rate by 10 at each third of them (StepLR), "constant" keeps it, and
    "onecycle" is OneCycleLR with `config.lr` as its peak and the epochs as its steps (cycling Adam's beta1;
    the other optimizers have no momentum PyTorch's OneCycleLR would cycle). `warmup_epochs` W > 0 puts a
    LinearLR warm-up first (SequentialLR): epoch k <= W trains at lr * k / (W + 1).

    The schedule starts from `config.lr` whatever the optimizer's groups hold (a resumed optimizer holds its
    last epoch's rate), so that a resumed run steps to exactly the rates of the run it continues.
    """
    for group in optimizer.param_groups:
        group["lr"] = config.lr
        group.pop("initial_lr", None)
    if config.lr_schedule == "onecycle":
        cycle_momentum = "betas" in optimizer.defaults
        return lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=config.epochs, cycle_momentum=cycle_momentum
        )
    warmup = config.warmup_epochs
    if warmup:
        schedules = [lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup + 1), total_iters=warmup)]
    else:
        schedules = []
    epochs = config.epochs - warmup
    if config.lr_schedule == "cosine":
        schedules.append(lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs))
    elif config.lr_schedule == "step":
        schedules.append(lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1))
    elif config.lr_schedule == "constant":
        schedules.append(lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0))
    else:
        raise ValueError(f"unknown lr_schedule {config.lr_schedule!r}")
    if not warmup:
        return schedules[0]
    return lr_scheduler.SequentialLR(optimizer, schedules, milestones=[warmup])
