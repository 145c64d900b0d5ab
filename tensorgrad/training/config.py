"""`TrainConfig`: every setting of a training run, its defaults, and the paper's preset."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

INPUT_SIZE = 28 * 28
NUM_CLASSES = 10

OPTIMIZERS = ("sgd", "momentum", "adam")
ACTIVATIONS = ("relu", "tanh")
LR_SCHEDULES = ("constant", "cosine", "onecycle", "step")
#: what early stopping watches; "last": every epoch improves (the run keeps its last weights)
MONITORS = ("val_loss", "val_accuracy", "last")
NAN_POLICIES = ("stop", "skip")
#: the most conv blocks `CNNOptions.channels` may name
MAX_CNN_BLOCKS = 6
#: the augmentations `augment` may name (see `builders.build_augmentation`), in the order they are applied
AUGMENTATIONS = ("crop", "flip", "erase")

#: the learning rate each optimizer gets when none is given: Adam's usual 1e-3; plain and momentum SGD need
#: a larger step (the paper's momentum averages gradients, so its step has the scale of SGD's).
DEFAULT_LR = {"adam": 1e-3, "momentum": 0.1, "sgd": 0.1}

#: The paper's settings: 784-196-64-10, ReLU, dropout keep 0.9, softmax cross-entropy + L2, He init, Adam with
#: its standard learning rate and no decay, mini-batches of 128, early stopping on the validation loss.
#: The paper does not state its batch size, lambda, epoch count or validation split; these values stand in for
#: them. The preset names everything the defaults below change, so it stays the paper's run whatever they are.
#:
#: The defaults (`TrainConfig()`) keep the architecture, the loss and Adam, and choose the rest by
#: experiment: inputs through a gamma curve (the square root of each pixel) and standardized pixel by pixel
#: (each pixel's mean over the training images subtracted, divided by its standard deviation plus 0.1), 60
#: epochs with a cosine decay of the learning rate to 0, a stronger L2 term (lambda 0.1; it was 0.03 on
#: pixels in [0, 1]), label smoothing 0.1, an average of the weights (EMA, decay 0.999) as the model that is
#: evaluated and kept, 59,000 images to train on (1,000 held out to watch) and the last epoch kept.
#: README's results table, printed by `scripts/results_table.py`, gives their test accuracy for seeds 0, 1,
#: 2.
PRESETS: dict[str, dict] = {
    "paper": {
        "hidden": (196, 64),
        "activation": "relu",
        "keep_prob": 0.9,
        "optimizer": "adam",
        "lr": 1e-3,
        "lr_schedule": "constant",
        "batch_size": 128,
        "epochs": 20,
        "l2": 1e-4,
        "patience": 5,
        "monitor": "val_loss",
        "val_size": 5000,
        "label_smoothing": 0.0,
        "ema_decay": None,
        "standardize": None,
        "input_gamma": 1.0,
    },
}


def settings_over(defaults: dict, settings: dict) -> dict:
    """`settings` over `defaults` (a preset's, a model's). A rate in `defaults` belongs to their optimizer:
    `settings` that name an optimizer without a rate drop it, so that optimizer gets its own default."""
    merged = dict(defaults)
    if "optimizer" in settings and "lr" not in settings:
        merged.pop("lr", None)
    merged.update(settings)
    return merged


@dataclass(frozen=True)
class CNNOptions:
    """The options of the convolutional model (`model="cnn"`), its section "cnn" of the config.

    `channels`: the output channels of the conv blocks, 1 to `MAX_CNN_BLOCKS` of them (each conv 3x3 - max
    pool 2 - batch norm - ReLU; a block pools while the side it gets is even: 28 -> 14 -> 7, and the blocks
    after the second keep 7x7); `hidden`: the width of the dense layer after them; `dropout`: the drop
    probability before the output layer.
    """

    channels: tuple[int, ...] = (32, 64, 64)
    hidden: int = 128
    dropout: float = 0.3

    def __post_init__(self):
        try:
            channels = tuple(int(width) for width in self.channels)
        except (TypeError, ValueError):
            raise ValueError(f"cnn channels must be a list of widths, got {self.channels!r}") from None
        object.__setattr__(self, "channels", channels)

    def to_dict(self) -> dict:
        return {"channels": list(self.channels), "hidden": self.hidden, "dropout": self.dropout}


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one run; `config.json` and every checkpoint store them, so a run can be rebuilt.

    `lr=None` means the optimizer's default (`DEFAULT_LR`). `patience=None` turns early stopping off (the best
    epoch's weights are still restored at the end). `l2` is the paper's lambda: the loss adds
    `l2 / (2 * batch_size) * sum ||W||^2` over the weight matrices. `lr_schedule` sets the rate of each
    batch (see `builders.build_scheduler`), after `warmup_epochs` of linear warm-up. The seed derives every
    random stream (validation split, batch order, initialization, dropout and augmentation), so a seed
    reproduces a run exactly.

    `model` names the model in the registry (`tensorgrad.training.models`): "mlp", whose options are
    `hidden`, `activation`, `keep_prob` and `standardize` (None: pixels as they are; a number c: the network
    subtracts each pixel's mean over the training images and divides by its standard deviation plus c, see
    `MLP.set_input_statistics`), or "cnn", whose options are the section `cnn` (`CNNOptions`). Either
    model first raises each pixel to the power `input_gamma` (1: as it is).
    `augment` names the augmentations of the training batches (`AUGMENTATIONS`), `label_smoothing` is
    cross-entropy's, and `ema_decay` (None: off) keeps an exponential moving average of the weights, which
    is what is evaluated, kept as the best weights and tested.

    `threads` runs tensorgrad's convolution, pooling and batch-norm kernels on that many threads
    (`tensorgrad.parallel`); None leaves it to the model (`ModelEntry.own_threads`: one per core for the
    CNN; BLAS's own threads for the MLP).
    """

    # the model, and the MLP's options
    model: str = "mlp"
    hidden: tuple[int, ...] = (196, 64)
    activation: str = "relu"
    keep_prob: float = 0.9
    standardize: float | None = 0.1
    input_gamma: float = 0.5
    cnn: CNNOptions = field(default_factory=CNNOptions)
    # optimization
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    lr_schedule: str = "cosine"
    warmup_epochs: int = 0
    batch_size: int = 128
    epochs: int = 60
    l2: float = 0.1
    clip_grad_norm: float | None = None
    on_nan: str = "stop"
    # regularization by the data and the loss, and the averaged weights
    augment: tuple[str, ...] = ()
    label_smoothing: float = 0.1
    ema_decay: float | None = 0.999
    # early stopping on a validation split held out from the training set
    patience: int | None = 10
    monitor: str = "last"
    val_size: int = 1000
    # data and reproducibility
    max_train_examples: int | None = None
    seed: int = 0
    # how many threads run the kernels is not part of the run either: the numbers are the same
    threads: int | None = field(default=None, compare=False)
    data_dir: str | None = field(default=None, compare=False)  # where the data lives is not part of the run
    download: bool = field(default=True, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(width) for width in self.hidden))
        object.__setattr__(self, "augment", tuple(self.augment))
        if isinstance(self.cnn, dict):
            known = {f.name for f in dataclasses.fields(CNNOptions)}
            unknown = sorted(set(self.cnn) - known)
            if unknown:
                raise ValueError(f"TrainConfig: unknown cnn settings {unknown}")
            object.__setattr__(self, "cnn", CNNOptions(**self.cnn))
        elif not isinstance(self.cnn, CNNOptions):
            raise ValueError(f"TrainConfig: cnn must be a section of settings, not {type(self.cnn).__name__}")
        if self.lr is None and self.optimizer in DEFAULT_LR:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        problems = _problems(self)
        if problems:
            raise ValueError("TrainConfig: " + "; ".join(problems))

    @property
    def sizes(self) -> tuple[int, ...]:
        """The layer widths of the MLP, input and output included: (784, *hidden, 10)."""
        return (INPUT_SIZE, *self.hidden, NUM_CLASSES)

    def to_dict(self) -> dict:
        """Plain JSON-ready values (the hidden widths as a list)."""
        values = dataclasses.asdict(self)
        values["hidden"] = list(self.hidden)
        values["cnn"] = self.cnn.to_dict()
        values["augment"] = list(self.augment)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """The inverse of `to_dict`; unknown keys are an error (a typo must not be ignored silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown settings {unknown}")
        # A run from before the MLP could transform its input had pixels in [0, 1] as they are.
        return cls(**{"standardize": None, "input_gamma": 1.0, **values})


def _problems(config: TrainConfig) -> list[str]:
    """Everything wrong with `config`, as messages naming the setting."""
    problems = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    check(
        config.threads is None or (isinstance(config.threads, int) and config.threads >= 1),
        f"threads must be a positive int or None, got {config.threads!r}",
    )
    check(
        len(config.hidden) >= 1 and all(w >= 1 for w in config.hidden),
        f"hidden must be one or more widths >= 1, got {config.hidden}",
    )
    check(
        config.activation in ACTIVATIONS,
        f"activation must be one of {ACTIVATIONS}, not {config.activation!r}",
    )
    check(0.0 < config.keep_prob <= 1.0, f"keep_prob must be in (0, 1], got {config.keep_prob}")
    floor = config.standardize
    check(
        floor is None or (isinstance(floor, (int, float)) and math.isfinite(floor) and floor > 0),
        f"standardize must be > 0 (or None for pixels as they are), got {floor!r}",
    )
    gamma = config.input_gamma
    check(
        isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0,
        f"input_gamma must be > 0, got {gamma!r}",
    )
    from .models import MODELS  # the registry imports this module for its type

    check(config.model in MODELS, f"model must be one of {tuple(MODELS)}, not {config.model!r}")
    cnn = config.cnn
    check(
        1 <= len(cnn.channels) <= MAX_CNN_BLOCKS and all(width >= 1 for width in cnn.channels),
        f"cnn channels must be 1 to {MAX_CNN_BLOCKS} widths >= 1, got {cnn.channels}",
    )
    check(cnn.hidden >= 1, f"cnn hidden must be >= 1, got {cnn.hidden}")
    check(0.0 <= cnn.dropout < 1.0, f"cnn dropout must be in [0, 1), got {cnn.dropout}")
    check(config.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, not {config.optimizer!r}")
    check(
        config.lr is not None and math.isfinite(config.lr) and config.lr > 0,
        f"lr must be > 0, got {config.lr}",
    )
    check(0.0 <= config.momentum < 1.0, f"momentum must be in [0, 1), got {config.momentum}")
    check(
        config.lr_schedule in LR_SCHEDULES,
        f"lr_schedule must be one of {LR_SCHEDULES}, not {config.lr_schedule!r}",
    )
    check(
        0 <= config.warmup_epochs < config.epochs,
        f"warmup_epochs must be >= 0 and less than epochs ({config.epochs}), got {config.warmup_epochs}",
    )
    check(
        config.warmup_epochs == 0 or config.lr_schedule != "onecycle",
        "warmup_epochs must be 0 with lr_schedule 'onecycle', which warms up by itself",
    )
    check(config.batch_size >= 1, f"batch_size must be >= 1, got {config.batch_size}")
    check(config.epochs >= 1, f"epochs must be >= 1, got {config.epochs}")
    check(math.isfinite(config.l2) and config.l2 >= 0, f"l2 must be >= 0, got {config.l2}")
    check(
        config.clip_grad_norm is None or config.clip_grad_norm > 0,
        f"clip_grad_norm must be > 0 (or None for no clipping), got {config.clip_grad_norm}",
    )
    check(config.on_nan in NAN_POLICIES, f"on_nan must be one of {NAN_POLICIES}, not {config.on_nan!r}")
    unknown = [name for name in config.augment if name not in AUGMENTATIONS]
    check(
        not unknown and len(set(config.augment)) == len(config.augment),
        f"augment must name each of {AUGMENTATIONS} at most once, got {list(config.augment)}",
    )
    check(
        isinstance(config.label_smoothing, (int, float)) and 0.0 <= config.label_smoothing < 1.0,
        f"label_smoothing must be in [0, 1), got {config.label_smoothing}",
    )
    check(
        config.ema_decay is None or 0.0 < config.ema_decay < 1.0,
        f"ema_decay must be in (0, 1) (or None for no averaging), got {config.ema_decay}",
    )
    check(
        config.patience is None or config.patience >= 1,
        f"patience must be >= 1 (or None for no early stopping), got {config.patience}",
    )
    check(config.monitor in MONITORS, f"monitor must be one of {MONITORS}, not {config.monitor!r}")
    check(config.val_size >= 1, f"val_size must be >= 1, got {config.val_size}")
    check(
        config.max_train_examples is None or config.max_train_examples >= 1,
        f"max_train_examples must be >= 1 (or None for all), got {config.max_train_examples}",
    )
    check(config.seed >= 0, f"seed must be >= 0, got {config.seed}")
    return problems
