"""The training loop: epochs of mini-batch steps, evaluation, early stopping, and non-finite loss detection.

`fit` trains any `nn.Module` in place with any loss and keeps everything a resumed run needs in a
`TrainState`; what happens between epochs (checkpoints, log files) is left to its `on_epoch_end` callback.
A model that says which shape it takes (an `input_shape` attribute, e.g. (784,) for the MLP or
(1, 28, 28) for a convnet) gets its batches reshaped to it; any other model gets them as they come.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .. import functional as F
from .. import nn
from ..grad_mode import no_grad
from ..progress import progress_bar
from ..tensor import Tensor
from .builders import build_scheduler
from .config import MONITORS, TrainConfig
from .metrics import accuracy

#: how many examples `evaluate` pushes through the model at once (no graph is kept, so memory is small)
EVAL_BATCH_SIZE = 10_000
# Refreshing the progress bar's postfix every step would cost more than the step itself on small batches.
_POSTFIX_EVERY = 20
_ROOM_FOR_CTRL_C = 3


class NonFiniteLossError(FloatingPointError):
    """The loss (or the gradient, or the validation loss) became NaN or infinite; says where."""

    def __init__(
        self, what: str, value: float, epoch: int, step: int | None = None, steps: int | None = None
    ):
        where = f"epoch {epoch}" if step is None else f"epoch {epoch}, step {step} of {steps}"
        super().__init__(f"the {what} is {value} at {where}")
        self.what, self.value, self.epoch, self.step = what, value, epoch, step


@dataclass
class Evaluation:
    """Mean cross-entropy (without the L2 term), accuracy and predicted classes on a data set."""

    loss: float
    accuracy: float
    predictions: np.ndarray


@contextlib.contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """Run the block with `model` in eval mode (no dropout) and no graph recorded; its mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def model_input(model, x: np.ndarray) -> np.ndarray:
    """The batch `x` in the shape `model` takes: (N, *model.input_shape) if the model has that attribute
    (a view for contiguous data), else `x` as it is."""
    shape = getattr(model, "input_shape", None)
    if shape is None or tuple(x.shape[1:]) == tuple(shape):
        return x
    return x.reshape((x.shape[0], *shape))


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = EVAL_BATCH_SIZE) -> Evaluation:
    """Evaluate `model` on (x, y) in eval mode (no dropout, batch norm's running statistics) and without
    recording a graph; the loss is the plain mean cross-entropy (no label smoothing, no L2 term).

    The model's training mode is restored afterwards.
    """
    total_loss = 0.0
    predictions = np.empty(len(y), dtype=np.int64)
    with inference(model), _quiet_floating_point():
        for start in range(0, len(y), batch_size):
            stop = start + batch_size
            logits = model(model_input(model, x[start:stop]))
            loss = F.cross_entropy(logits, y[start:stop], reduction="sum")
            total_loss += float(loss.data)
            predictions[start:stop] = logits.data.argmax(axis=1)
    return Evaluation(total_loss / len(y), accuracy(predictions, y), predictions)


LossFunction = Callable[[Tensor, np.ndarray], Tensor]


def default_loss(model) -> LossFunction:
    """The loss `fit` uses when it is given none: the model's own (`model.loss_from_logits(logits, y)`) if it
    has one, else mean softmax cross-entropy."""
    return getattr(model, "loss_from_logits", None) or F.cross_entropy


def l2_weights(model) -> list:
    """What the L2 term penalizes: `model.weights()` if the model says, else every parameter of two or more
    dimensions (weight matrices and convolution kernels; not biases, nor batch norm's scales)."""
    weights = getattr(model, "weights", None)
    if callable(weights):
        return list(weights())
    return [param for param in model.parameters() if param.ndim >= 2]


def training_loss(model, loss_fn: LossFunction | None = None, l2: float = 0.0) -> Callable:
    """`loss(x, y) -> (loss, logits)`: `loss_fn(model(x), y)` (default: `default_loss(model)`) plus the
    paper's L2 term `l2 / (2 m) * sum ||W||^2` over `l2_weights(model)`, m the batch size."""
    criterion = default_loss(model) if loss_fn is None else loss_fn
    weights = l2_weights(model) if l2 else []

    def loss(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
        logits = model(model_input(model, x))
        value = criterion(logits, y)
        if l2:
            value = value + F.l2_penalty(weights, l2 / len(y))
        return value, logits

    return loss


class EarlyStopping:
    """Tracks the best value of a validation metric and how many epochs have passed without improving it.

    `monitor="last"` counts every epoch whose validation loss is finite as the best (the value kept is that
    loss): the run keeps its last weights, where a schedule that anneals to the end leaves its best model,
    rather than an epoch the validation set's noise picks, and it stops early only on non-finite losses.
    """

    def __init__(self, monitor: str = "val_loss", patience: int | None = None):
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, not {monitor!r}")
        self.monitor = monitor
        self.patience = patience
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0

    def is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None or self.monitor == "last":
            return True
        return value < self.best if self.monitor == "val_loss" else value > self.best

    @property
    def metric(self) -> str:
        """The metric whose value `best` holds."""
        return "val_loss" if self.monitor == "last" else self.monitor

    def update(self, epoch: int, metrics: dict) -> bool:
        """Record the metrics of `epoch`; True if it is the best epoch so far."""
        value = metrics[self.metric]
        if self.is_better(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def stop_reason(self) -> str:
        """Why `should_stop` is True, in one line: the epochs without improvement, the best value so far."""
        best = (
            "no finite value yet" if self.best is None else f"best {self.best:.4f} at epoch {self.best_epoch}"
        )
        epochs = f"{self.bad_epochs} epoch{'' if self.bad_epochs == 1 else 's'}"
        if self.monitor == "last":  # only a non-finite loss fails to count here
            return f"early stopping: val_loss was not finite for {epochs} ({best})"
        return f"early stopping: {self.monitor} did not improve for {epochs} ({best})"

    def state_dict(self) -> dict:
        return {
            "monitor": self.monitor,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["monitor"] != self.monitor:
            raise ValueError(f"early stopping state is for {state['monitor']!r}, not {self.monitor!r}")
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]


@dataclass
class TrainState:
    """Where training stands after `epoch` complete epochs: what `fit` needs to continue exactly."""

    early_stopping: EarlyStopping
    epoch: int = 0
    history: list = field(default_factory=list)  # one dict of metrics per epoch
    best_weights: dict | None = None  # a copy of the model's state dict at the best epoch
    skipped_steps: int = 0  # steps skipped for a non-finite loss or gradient (with on_nan="skip")
    stop_reason: str | None = None  # why training ended early; None if it ran all its epochs
    finished: bool = False
    seconds: float = 0.0  # time spent in epochs, summed over every session of a resumed run

    def progress(self) -> dict:
        """The JSON-ready part of the state (the weights go into checkpoints as arrays)."""
        return {
            "early_stopping": self.early_stopping.state_dict(),
            "history": self.history,
            "skipped_steps": self.skipped_steps,
            "stop_reason": self.stop_reason,
            "finished": self.finished,
            "seconds": self.seconds,
        }

    @classmethod
    def from_progress(
        cls, config: TrainConfig, epoch: int, progress: dict, best_weights: dict | None
    ) -> TrainState:
        """The inverse of `progress()`, for the state saved after `epoch` epochs."""
        early_stopping = EarlyStopping(config.monitor, config.patience)
        early_stopping.load_state_dict(progress["early_stopping"])
        return cls(
            early_stopping=early_stopping,
            epoch=epoch,
            history=list(progress["history"]),
            best_weights=best_weights,
            skipped_steps=progress["skipped_steps"],
            stop_reason=progress["stop_reason"],
            finished=progress["finished"],
            seconds=progress["seconds"],
        )

    def restore_best(self, model: nn.Module) -> bool:
        """Load the best weights into `model`; False if there are none yet."""
        if self.best_weights is None:
            return False
        model.load_state_dict(self.best_weights)
        return True


StepCallback = Callable[[int, int], None]
EpochCallback = Callable[[TrainState, bool], None]


def fit(
    model: nn.Module,
    optimizer,
    loader,
    val_x: np.ndarray,
    val_y: np.ndarray,
    config: TrainConfig,
    state: TrainState | None = None,
    *,
    on_epoch_end: EpochCallback | None = None,
    on_step: StepCallback | None = None,
    log: Callable[[str], None] | None = print,
    progress: bool | None = None,
    loss_fn: LossFunction | None = None,
    ema=None,
) -> TrainState:
    """Train `model` for the epochs `state` has not run yet; return the state, best weights loaded.

    Each epoch: one pass over `loader` in train mode (dropout on, batch norm on batch
    statistics; the learning-rate schedule of `build_scheduler` stepped after every batch), evaluation
    on the validation set in eval mode, then early stopping. Each step minimizes
    `loss_fn(logits, y)` (default: `default_loss(model)`) plus the L2 term of `config.l2` (see
    `training_loss`). With `ema` (a `ModelEMA` of `model`), the average is updated after every step, and it
    is the average that is evaluated, kept as the best weights and loaded at the end (into `ema.module`).
    `on_epoch_end(state, improved)` runs after each epoch (`improved`: it is the best so far),
    `on_step(epoch, step)` after each optimizer step. `log` gets one line per epoch (None: silent); `progress`
    shows a progress bar on stderr (None: only on a terminal).

    A NaN/inf loss or gradient raises `NonFiniteLossError` before it reaches the weights, unless
    `config.on_nan == "skip"`, which skips that step's update and counts it in `state.skipped_steps`.
    On normal completion (all epochs, or early stopping) the best epoch's weights are loaded into `model`
    (or `ema.module`).
    """
    state = state if state is not None else TrainState(EarlyStopping(config.monitor, config.patience))
    evaluated = model if ema is None else ema.module
    objective = training_loss(model, loss_fn, config.l2)
    params = list(model.parameters())
    show_skipped = config.on_nan == "skip"
    if log is not None and not state.finished and state.epoch < config.epochs:
        log(epoch_header(config.epochs, show_skipped))
    schedule = build_scheduler(config, optimizer, len(loader))
    for _ in range(state.epoch * len(loader)):  # a resumed run: the schedule moves on to where it left off
        schedule.step()
    while not state.finished and state.epoch < config.epochs:
        epoch = state.epoch + 1
        started = time.perf_counter()
        rate = optimizer.param_groups[0]["lr"]  # the epoch's first; the schedule moves it every batch
        train = train_epoch(
            model, optimizer, loader, params, config, epoch,
            on_step=on_step, progress=progress, objective=objective, ema=ema, schedule=schedule,
        )  # fmt: skip
        val = evaluate(evaluated, val_x, val_y)
        if not math.isfinite(val.loss):
            # The weights themselves are broken (a finite loss cannot come out of finite weights here).
            raise NonFiniteLossError("validation loss", val.loss, epoch)
        seconds = time.perf_counter() - started
        metrics = {
            "epoch": epoch,
            "train_loss": train["loss"],
            "train_accuracy": train["accuracy"],
            "val_loss": val.loss,
            "val_accuracy": val.accuracy,
            "lr": rate,
            "seconds": round(seconds, 3),
            "skipped_steps": train["skipped_steps"],
        }
        improved = state.early_stopping.update(epoch, metrics)
        if improved:
            state.best_weights = evaluated.state_dict()
        state.epoch = epoch
        state.history.append(metrics)
        state.skipped_steps += train["skipped_steps"]
        state.seconds += seconds
        if state.early_stopping.should_stop:
            state.stop_reason = state.early_stopping.stop_reason()
        state.finished = state.stop_reason is not None or epoch == config.epochs
        if log is not None:
            log(format_epoch(metrics, config.epochs, improved, show_skipped))
        if on_epoch_end is not None:
            on_epoch_end(state, improved)
    state.restore_best(evaluated)
    return state


def train_epoch(
    model: nn.Module,
    optimizer,
    loader,
    params: list,
    config: TrainConfig,
    epoch: int,
    *,
    on_step: StepCallback | None = None,
    progress: bool | None = None,
    objective: Callable | None = None,
    ema=None,
    schedule=None,
) -> dict:
    """One pass over `loader` minimizing `objective(x, y) -> (loss, logits)` (default: `training_loss(model,
    l2=config.l2)`), `ema` updated after each step and `schedule` stepped after each batch (a skipped one
    too, so that the rates follow the batches); returns the mean training loss and accuracy, and the
    number of skipped steps."""
    objective = training_loss(model, l2=config.l2) if objective is None else objective
    model.train()
    steps = len(loader)
    loss_sum, correct, seen, skipped = 0.0, 0, 0, 0
    bar = progress_bar(
        loader,
        total=steps,
        desc=f"epoch {epoch}/{config.epochs}",
        unit="batch",
        leave=False,
        file=sys.stderr,
        disable=None if progress is None else not progress,
        ncols=progress_bar_width(),
    )
    with bar, _quiet_floating_point():
        for step, (x, y) in enumerate(bar, start=1):
            optimizer.zero_grad()
            loss, logits = objective(x, y)
            value = float(loss.data)
            problem = None if math.isfinite(value) else ("loss", value)
            if problem is None:
                loss.backward()
                norm = _gradient_norm(params, config.clip_grad_norm)
                problem = None if math.isfinite(norm) else ("gradient norm", norm)
            if problem is None:
                optimizer.step()
            else:
                optimizer.zero_grad()  # the non-finite gradients never reach the optimizer
                if config.on_nan == "stop":
                    raise NonFiniteLossError(*problem, epoch, step, steps)
                skipped += 1
            if schedule is not None:
                schedule.step()  # after a skipped batch too: the rates follow the batches
            if problem is not None:
                continue
            if ema is not None:
                ema.update(model)
            n = len(y)
            loss_sum += value * n
            correct += int(np.count_nonzero(logits.data.argmax(axis=1) == y))
            seen += n
            if step % _POSTFIX_EVERY == 0 or step == steps:
                bar.set_postfix(
                    {"loss": f"{loss_sum / seen:.4f}", "acc": f"{correct / seen:.2%}"}, refresh=False
                )
            if on_step is not None:
                on_step(epoch, step)
    if seen == 0:
        raise NonFiniteLossError(f"loss of every one of the {steps} steps", math.nan, epoch)
    return {"loss": loss_sum / seen, "accuracy": correct / seen, "skipped_steps": skipped}


def epoch_header(epochs: int, show_skipped: bool = False) -> str:
    """The column names above the lines of `format_epoch` (a table keeps each line within 80 columns)."""
    header = (
        f"{'epoch':>{_epoch_width(epochs)}}  {'train loss':>10}  {'acc':>7}  {'val loss':>8}  {'acc':>7}  "
        f"{'lr':>7}  {'time':>7}"
    )
    return header + ("  skips" if show_skipped else "") + "  best"


def format_epoch(metrics: dict, epochs: int, improved: bool, show_skipped: bool = False) -> str:
    """The line printed after each epoch, under `epoch_header`; a `*` in the last column marks a new best epoch."""
    epoch = f"{metrics['epoch']:{len(str(epochs))}d}/{epochs}"
    line = (
        f"{epoch:>{_epoch_width(epochs)}}  {metrics['train_loss']:10.4f}  {metrics['train_accuracy']:7.2%}  "
        f"{metrics['val_loss']:8.4f}  {metrics['val_accuracy']:7.2%}  {metrics['lr']:7.1e}  "
        f"{metrics['seconds']:6.1f}s"
    )
    if show_skipped:
        line += f"  {metrics['skipped_steps']:5d}"
    return line + ("     *" if improved else "")


def _epoch_width(epochs: int) -> int:
    return max(len("epoch"), 2 * len(str(epochs)) + 1)


def progress_bar_width() -> int:
    """The width of the progress bar: the terminal's, less room for the "^C" a terminal echoes on Ctrl-C.

    A bar as wide as the terminal leaves the cursor at its last column; the echoed "^C" then wraps onto a
    new line, and clearing the bar clears that line instead, leaving the bar on screen.
    """
    return max(20, shutil.get_terminal_size().columns - _ROOM_FOR_CTRL_C)


@contextlib.contextmanager
def _quiet_floating_point():
    # A diverging run makes NaN and inf; the loop detects them and says where. NumPy's RuntimeWarnings
    # ("invalid value encountered ...") would only repeat it, less clearly.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        yield


def _gradient_norm(params: list, clip: float | None) -> float:
    """The joint L2 norm of the gradients (before clipping); with `clip` set, they are scaled down to it.

    (A norm that overflows the gradients' dtype is as unusable as a non-finite gradient: see
    `nn.utils.total_grad_norm`.)
    """
    if clip is not None:
        return float(nn.utils.clip_grad_norm_(params, clip).data)
    return nn.utils.total_grad_norm(params)
