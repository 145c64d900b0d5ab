"""Build a run's model, optimizer, learning-rate schedule, augmentation, random generators and data from its
`TrainConfig`."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import optim
from ..data import transforms
from ..optim import lr_scheduler
from .config import TrainConfig
from .models import IMAGE_SHAPE, model_entry

#: the independent random streams of a run, all derived from its seed (a stream added at the end leaves
#: the others as they were: SeedSequence's children are numbered)
STREAMS = ("split", "loader", "model", "augment")
#: how far `augment=("crop",)` shifts an image: padded by this many pixels, then cut back to 28x28
CROP_PADDING = 2


def seed_generators(seed: int) -> dict[str, np.random.Generator]:
    """One generator per stream of `STREAMS`, spawned from `seed` so that they never overlap.

    "split" draws the validation split, "loader" the order of the batches, "model" the initial weights and
    then the dropout masks, "augment" the augmentation of the training batches.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def build_model(config: TrainConfig, rng: np.random.Generator | int | None = None, train_images=None):
    """The model `config.model` names (see `tensorgrad.training.models`), with its options from `config`,
    initialized from `rng`. With `train_images` (float32, (N, 1, 28, 28)) it also fits what the model takes
    from them, as a run does before it trains (the MLP's input statistics, `--standardize`); without, a
    standardizing MLP keeps mean 0 and deviation 1 until it loads a state dict."""
    entry = model_entry(config.model)
    model = entry.build(config, rng)
    if train_images is not None and entry.fit is not None:
        entry.fit(model, config, train_images)
    return model


def expected_state(config: TrainConfig) -> dict[str, tuple[tuple[int, ...], str]]:
    """{state dict key: (shape, kind)} of `build_model(config)`, kind "f" (float) or "i" (integer), worked
    out from the config without building the model (no memory needed)."""
    return model_entry(config.model).state(config)


def expected_state_shapes(config: TrainConfig) -> dict[str, tuple[int, ...]]:
    """The state dict shapes of `build_model(config)`, computed without building it (no memory needed).

    For the MLP: {"0.weight": (196, 784), "0.bias": (196,), "3.weight": ...}, its Linear layers at the
    indices of the equivalent `torch.nn.Sequential`.
    """
    return {name: shape for name, (shape, _) in expected_state(config).items()}


def build_loss(config: TrainConfig):
    """The loss of `config` for `fit`: None (the model's own loss, cross-entropy for the MLP and the CNN)
    without label smoothing; with it, `F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)`."""
    if not config.label_smoothing:
        return None
    smoothing = config.label_smoothing

    def smoothed_cross_entropy(logits, y):
        return F.cross_entropy(logits, y, label_smoothing=smoothing)

    return smoothed_cross_entropy


def build_augmentation(config: TrainConfig) -> transforms.Compose | None:
    """The augmentation `config.augment` names, on (N, 1, 28, 28) batches; None for none.

    "crop": `RandomCrop(28, padding=CROP_PADDING)`; "flip": `RandomHorizontalFlip(0.5)`; "erase":
    `RandomErasing(0.5)` with torchvision's default box sizes, erased to 0 (the black background). They are
    applied in that order, whatever the order of the names.
    """
    chosen = {
        "crop": transforms.RandomCrop(IMAGE_SHAPE[1:], padding=CROP_PADDING),
        "flip": transforms.RandomHorizontalFlip(0.5),
        "erase": transforms.RandomErasing(0.5),
    }
    steps = [transform for name, transform in chosen.items() if name in config.augment]
    return transforms.Compose(steps) if steps else None


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


def build_scheduler(
    config: TrainConfig, optimizer: optim.Optimizer, steps_per_epoch: int = 1
) -> lr_scheduler.LRScheduler:
    """The learning-rate schedule of `config` on `optimizer`, stepped after every batch (`steps_per_epoch`
    of them an epoch; 1: once per epoch): batch b (from 0) trains at the rate it holds after b steps.

    "cosine" anneals from `config.lr` towards 0 over the epochs (CosineAnnealingLR, T_max the batches after
    the warm-up), "step" divides the rate by 10 at each third of the epochs (StepLR), "constant" keeps it,
    and "onecycle" is OneCycleLR with `config.lr` as its peak and the batches of all epochs as its steps
    (cycling Adam's beta1; the other optimizers have no momentum PyTorch's OneCycleLR would cycle).
    `warmup_epochs` W > 0 puts a LinearLR warm-up first (SequentialLR): the rate rises linearly over the
    first W epochs' batches from lr / (W * steps_per_epoch + 1).

    Stepping per batch rather than per epoch matters for short runs: a one-cycle schedule over ten epochs
    stepped per epoch spends the whole first epoch at a 25th of its peak and the last one near zero.
    The schedule starts from `config.lr` whatever the optimizer's groups hold (a resumed optimizer holds its
    last rate), so that a resumed run steps to exactly the rates of the run it continues.
    """
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"build_scheduler: steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    for group in optimizer.param_groups:
        group["lr"] = config.lr
        group.pop("initial_lr", None)
    if config.lr_schedule == "onecycle":
        cycle_momentum = "betas" in optimizer.defaults
        return lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=config.epochs * steps_per_epoch,
            cycle_momentum=cycle_momentum,
        )
    warmup = config.warmup_epochs * steps_per_epoch
    if warmup:
        schedules = [lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup + 1), total_iters=warmup)]
    else:
        schedules = []
    epochs = config.epochs - config.warmup_epochs
    if config.lr_schedule == "cosine":
        schedules.append(lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch))
    elif config.lr_schedule == "step":
        step_size = max(1, epochs // 3) * steps_per_epoch
        schedules.append(lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.1))
    elif config.lr_schedule == "constant":
        schedules.append(lr_scheduler.LambdaLR(optimizer, lambda step: 1.0))
    else:
        raise ValueError(f"unknown lr_schedule {config.lr_schedule!r}")
    if not warmup:
        return schedules[0]
    return lr_scheduler.SequentialLR(optimizer, schedules, milestones=[warmup])
