"""A training run and its folder: data, model, `fit`, checkpoints, logs, results and pictures.

The run folder holds:

- ``config.json``: every setting (`TrainConfig`), the seed included;
- ``metrics.jsonl``: one JSON object per epoch, appended and flushed as each epoch ends;
- ``best.npz`` (the best epoch) and ``last.npz`` (the latest epoch, what ``--resume`` continues from);
- ``results.json``: test accuracy and loss of the best weights, per-class accuracy, best epoch, epochs run,
  wall time, and whether and why training stopped early;
- ``curves.png``, ``confusion.png`` and ``graph.svg`` (the graph of one training step).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..data import FASHION_MNIST_CLASSES, DataLoader, load_fashion_mnist, to_float32, train_val_split
from ..files import write_bytes_atomically, write_json_atomically
from ..optim import state_to_arrays
from . import checkpoint as ckpt
from .builders import build_model, build_optimizer, seed_generators
from .config import NUM_CLASSES, TrainConfig
from .loop import EarlyStopping, NonFiniteLossError, TrainState, evaluate, fit
from .metrics import confusion_matrix, per_class_accuracy
from .plots import plot_confusion, plot_curves, save_training_graph

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
BEST_CHECKPOINT = "best.npz"
LAST_CHECKPOINT = "last.npz"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion.png"
GRAPH_FILE = "graph.svg"
RUN_FILES = (
    CONFIG_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    CURVES_FILE,
    CONFUSION_FILE,
    GRAPH_FILE,
)

#: exit codes of a run (the command-line tools return them)
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
#: how many training examples the graph of one step is drawn for (small: the picture shows shapes, not data)
GRAPH_BATCH = 8


class RunError(RuntimeError):
    """The run folder cannot be used as asked (it already holds a run, or has nothing to resume)."""


@dataclass
class RunOutcome:
    """How a run ended: `status` is "finished", "interrupted" or "non-finite"; `exit_code` goes to the shell."""

    run_dir: Path
    status: str
    exit_code: int
    results: dict | None = None


@dataclass
class RunData:
    """A run's three splits: float32 images (N, 784) in [0, 1] and int64 labels."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def prepare_data(config: TrainConfig, split_rng: np.random.Generator, dataset=None) -> RunData:
    """Load Fashion-MNIST (or use `dataset`), hold out `config.val_size` training examples for validation,
    keep at most `config.max_train_examples` of the rest, and scale the pixels to [0, 1]."""
    if dataset is None:
        dataset = load_fashion_mnist(config.data_dir, download=config.download)
    try:
        (train_x, train_y), (val_x, val_y) = train_val_split(
            dataset.train_images, dataset.train_labels, config.val_size, split_rng
        )
    except ValueError as error:
        raise RunError(f"cannot hold out a validation set: {error}") from None
    if config.max_train_examples is not None:
        train_x, train_y = train_x[: config.max_train_examples], train_y[: config.max_train_examples]
    return RunData(
        to_float32(train_x),
        train_y,
        to_float32(val_x),
        val_y,
        to_float32(dataset.test_images),
        dataset.test_labels,
    )


def default_run_dir(root: str | os.PathLike[str] = "runs") -> Path:
    """A fresh folder name under `root`: the current time, with a suffix if that name is taken."""
    base = Path(root) / datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, suffix = base, 1
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{suffix}")
        suffix += 1
    return candidate


def train_run(
    config: TrainConfig,
    run_dir: str | os.PathLike[str] | None = None,
    *,
    dataset=None,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
    on_step=None,
) -> RunOutcome:
    """Train a new run of `config` into `run_dir` (default: a fresh folder under `runs/`).

    `dataset` (a loaded `FashionMNIST`) skips loading the data; `on_step(epoch, step)` is passed on to `fit`.
    Raises `RunError` if `run_dir` already holds a run.
    """
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir()
    if (run_dir / LAST_CHECKPOINT).exists():
        raise RunError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir}, or pick another --out"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run_dir / CONFIG_FILE, config.to_dict())
    return _Run(run_dir, config, None, dataset, log, progress, on_step).execute()


def resume_run(
    run_dir: str | os.PathLike[str],
    *,
    data_dir: str | None = None,
    download: bool | None = None,
    dataset=None,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
    on_step=None,
) -> RunOutcome:
    """Continue the run in `run_dir` from its `last.npz`, exactly as if it had never stopped.

    The settings come from the checkpoint; only where the data lives (`data_dir`, `download`) may change.
    A run that had already finished is not trained further: its results and pictures are written again.
    """
    run_dir = Path(run_dir)
    last = run_dir / LAST_CHECKPOINT
    if not last.exists():
        raise RunError(f"cannot resume {run_dir}: it has no {LAST_CHECKPOINT}")
    checkpoint = ckpt.load_checkpoint(last)
    try:
        config = TrainConfig.from_dict(checkpoint.config)
    except (TypeError, ValueError) as error:
        raise ckpt.CheckpointError(last, f"its config is not valid: {error}") from None
    changes = {"data_dir": data_dir, "download": download}
    config = dataclasses.replace(
        config, **{key: value for key, value in changes.items() if value is not None}
    )
    return _Run(run_dir, config, checkpoint, dataset, log, progress, on_step).execute()


class _Run:
    """One session of a run: a new run, or a resumed one (`checkpoint` is then its `last.npz`)."""

    def __init__(self, run_dir: Path, config: TrainConfig, checkpoint, dataset, log, progress, on_step):
        self.run_dir, self.config, self.log = run_dir, config, log
        self.progress, self.on_step = progress, on_step
        self.started = time.perf_counter()
        generators = seed_generators(config.seed)
        self.data = prepare_data(config, generators["split"], dataset)
        self.model = build_model(config, generators["model"])
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.loader = DataLoader(
            self.data.train_x, self.data.train_y, config.batch_size, shuffle=True, rng=generators["loader"]
        )
        self.previous_seconds = 0.0  # wall time of earlier sessions of this run
        if checkpoint is None:
            self.state = TrainState(EarlyStopping(config.monitor, config.patience))
            self.saved_epoch = None
            # A checkpoint of epoch 0, so that even a run stopped in its first epoch can be resumed.
            self._save_checkpoints(improved=False)
            write_bytes_atomically(self.path(METRICS_FILE), b"")
        else:
            self._restore(checkpoint)

    def path(self, name: str) -> Path:
        return self.run_dir / name

    # ----- the session
    def execute(self) -> RunOutcome:
        if not self.path(GRAPH_FILE).exists():
            self._draw_graph()
        if self.state.finished:
            self.log(f"{self.run_dir} had already finished training; writing its results again")
            self.state.restore_best(self.model)
            return self._finish()
        if self.state.epoch:
            self.log(f"resuming {self.run_dir} after epoch {self.state.epoch}")
        try:
            with open(self.path(METRICS_FILE), "a", encoding="utf-8") as self.metrics_file:
                fit(
                    self.model,
                    self.optimizer,
                    self.loader,
                    self.data.val_x,
                    self.data.val_y,
                    self.config,
                    self.state,
                    on_epoch_end=self._end_epoch,
                    on_step=self.on_step,
                    log=self.log,
                    progress=self.progress,
                )
        except KeyboardInterrupt:
            self.log(
                f"\nInterrupted in epoch {self.state.epoch + 1}. The last checkpoint, {self.path(LAST_CHECKPOINT)}, "
                f"holds the end of epoch {self.saved_epoch}.\n"
                f"Resume with: tensorgrad-train --resume {self.run_dir}  "
                f"(or: python scripts/train.py --resume {self.run_dir})"
            )
            return RunOutcome(self.run_dir, "interrupted", EXIT_INTERRUPTED)
        except NonFiniteLossError as error:
            return self._stop_non_finite(error)
        return self._finish()

    def _end_epoch(self, state: TrainState, improved: bool) -> None:
        """After each epoch: checkpoints first, then the metrics line (a resume rewrites the lines it lacks)."""
        self._save_checkpoints(improved)
        self.metrics_file.write(json.dumps(state.history[-1]) + "\n")
        self.metrics_file.flush()

    def _stop_non_finite(self, error: NonFiniteLossError) -> RunOutcome:
        best = self.state.early_stopping.best_epoch
        self.log(
            f"\nStopped: {error}. No update was made with it, and the checkpoints are unchanged "
            f"({self.path(LAST_CHECKPOINT)} holds epoch {self.saved_epoch}"
            + (f", {self.path(BEST_CHECKPOINT)} the best epoch, {best})." if best else ").")
            + "\nTry a lower --lr, --clip-grad-norm, or --on-nan skip to skip such steps."
        )
        if not self.state.restore_best(self.model):
            return RunOutcome(self.run_dir, "non-finite", EXIT_FAILED)
        self.state.stop_reason = f"non-finite: {error}"
        outcome = self._finish()
        return RunOutcome(self.run_dir, "non-finite", EXIT_FAILED, outcome.results)

    # ----- checkpoints
    def _checkpoint(self, with_best: bool) -> ckpt.Checkpoint:
        progress = self.state.progress()
        progress["wall_seconds"] = self.wall_seconds()
        return ckpt.Checkpoint(
            config=self.config.to_dict(),
            model_state=self.model.state_dict(),
            epoch=self.state.epoch,
            optimizer_state=state_to_arrays(self.optimizer.state_dict()),
            rng_states={
                "loader": ckpt.generator_state(self.loader.rng),
                "model": ckpt.generator_state(self.model.rng),
            },
            best_metric=self.state.early_stopping.best,
            progress=progress,
            best_model_state=self.state.best_weights if with_best else None,
        )

    def _save_checkpoints(self, improved: bool) -> None:
        if improved:
            ckpt.save_checkpoint(self.path(BEST_CHECKPOINT), self._checkpoint(with_best=False))
        ckpt.save_checkpoint(self.path(LAST_CHECKPOINT), self._checkpoint(with_best=True))
        self.saved_epoch = self.state.epoch

    def _restore(self, checkpoint: ckpt.Checkpoint) -> None:
        path = self.path(LAST_CHECKPOINT)
        ckpt.load_model_state(self.model, checkpoint.model_state, path)
        ckpt.load_optimizer_state(self.optimizer, checkpoint.optimizer_state, path)
        for name, generator in (("loader", self.loader.rng), ("model", self.model.rng)):
            if name not in checkpoint.rng_states:
                raise ckpt.CheckpointError(path, f"missing key rng/{name}")
            ckpt.restore_generator(generator, checkpoint.rng_states[name], path)
        try:
            self.state = TrainState.from_progress(
                self.config, checkpoint.epoch, checkpoint.progress, checkpoint.best_model_state
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ckpt.CheckpointError(path, f"its training progress is incomplete: {error!r}") from None
        if self.state.early_stopping.best_epoch and checkpoint.best_model_state is None:
            raise ckpt.CheckpointError(path, "missing the best weights (best_model/...)")
        self.previous_seconds = float(checkpoint.progress.get("wall_seconds", 0.0))
        self.saved_epoch = checkpoint.epoch
        # Lines written after this checkpoint (an interruption between the two writes) are dropped.
        lines = "".join(json.dumps(row) + "\n" for row in self.state.history)
        write_bytes_atomically(self.path(METRICS_FILE), lines.encode("utf-8"))

    # ----- the end of a run
    def wall_seconds(self) -> float:
        return self.previous_seconds + time.perf_counter() - self.started

    def _finish(self) -> RunOutcome:
        """Evaluate the best weights (already in the model) on the test set; write results and pictures."""
        test = evaluate(self.model, self.data.test_x, self.data.test_y)
        confusion = confusion_matrix(test.predictions, self.data.test_y, NUM_CLASSES)
        class_accuracy = per_class_accuracy(confusion)
        state = self.state
        results = {
            "test_accuracy": test.accuracy,
            "test_loss": test.loss,
            "best_epoch": state.early_stopping.best_epoch,
            "best_" + self.config.monitor: state.early_stopping.best,
            "epochs_run": state.epoch,
            "wall_seconds": round(self.wall_seconds(), 2),
            "stopped_early": state.stop_reason is not None,
            "stop_reason": state.stop_reason or f"ran all {self.config.epochs} epochs",
            "skipped_steps": state.skipped_steps,
            "per_class_accuracy": {
                name: (None if np.isnan(acc) else float(acc))
                for name, acc in zip(FASHION_MNIST_CLASSES, class_accuracy)
            },
            "confusion_matrix": confusion.tolist(),
        }
        write_json_atomically(self.path(RESULTS_FILE), results)
        if state.history:
            plot_curves(state.history, state.early_stopping.best_epoch or None, self.path(CURVES_FILE))
        plot_confusion(
            confusion,
            FASHION_MNIST_CLASSES,
            self.path(CONFUSION_FILE),
            title=f"test set, accuracy {test.accuracy:.2%} (best epoch {results['best_epoch']})",
        )
        self.log(
            f"test accuracy {test.accuracy:.2%}, test loss {test.loss:.4f} (best epoch {results['best_epoch']} "
            f"of {state.epoch}; {results['stop_reason']}); {results['wall_seconds']:.0f}s; run folder {self.run_dir}"
        )
        return RunOutcome(self.run_dir, "finished", EXIT_OK, results)

    def _draw_graph(self) -> None:
        import graphviz

        x, y = self.data.train_x[:GRAPH_BATCH], self.data.train_y[:GRAPH_BATCH]
        try:
            save_training_graph(self.model, x, y, self.config.l2, self.path(GRAPH_FILE))
        except graphviz.ExecutableNotFound:
            self.log(f"warning: Graphviz's `dot` program was not found, so {GRAPH_FILE} was not drawn")
