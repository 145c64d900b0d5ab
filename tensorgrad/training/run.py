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

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import parallel
from ..data import FASHION_MNIST_CLASSES, DataLoader, to_float32, train_val_split
from ..files import (
    LOCK_FILE,
    FolderLockedError,
    describe_os_error,
    folder_lock,
    remove_stale_temporaries,
    write_bytes_atomically,
    write_json_atomically,
)
from ..optim import state_to_arrays
from ..optional import is_available
from . import checkpoint as ckpt
from .builders import (
    build_augmentation,
    build_loss,
    build_model,
    build_optimizer,
    describe_source,
    load_dataset,
    seed_generators,
)
from .config import NUM_CLASSES, TrainConfig
from .ema import ModelEMA
from .loop import EarlyStopping, NonFiniteLossError, TrainState, evaluate, fit, training_loss
from .metrics import confusion_matrix, per_class_accuracy
from .models import IMAGE_SHAPE, kernel_threads, model_entry
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

#: the library each picture of the run folder needs (optional: without it, the picture is not drawn)
PICTURE_LIBRARIES = {CURVES_FILE: "matplotlib", CONFUSION_FILE: "matplotlib", GRAPH_FILE: "graphviz"}

#: exit codes of a run (the command-line tools return them)
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
#: how many training examples the graph of one step is drawn for (small: the picture shows shapes, not data)
GRAPH_BATCH = 8


class RunError(RuntimeError):
    """The run folder cannot be used as asked (not new or empty, in use, nothing to resume, cannot be written)."""


@dataclass
class RunOutcome:
    """How a run ended: `status` is "finished", "interrupted" or "non-finite"; `exit_code` goes to the shell."""

    run_dir: Path
    status: str
    exit_code: int
    results: dict | None = None


@dataclass
class RunData:
    """A run's three splits: float32 images (N, 1, 28, 28) in [0, 1] and int64 labels (a model that takes
    flat rows gets them reshaped by the loop, see `loop.model_input`)."""

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
        dataset = load_dataset(config.data_dir, download=config.download)
    try:
        (train_x, train_y), (val_x, val_y) = train_val_split(
            dataset.train_images, dataset.train_labels, config.val_size, split_rng
        )
    except ValueError as error:
        raise RunError(f"cannot hold out a validation set: {error}") from None
    if config.max_train_examples is not None:
        train_x, train_y = train_x[: config.max_train_examples], train_y[: config.max_train_examples]
    return RunData(
        as_images(train_x),
        train_y,
        as_images(val_x),
        val_y,
        as_images(dataset.test_images),
        dataset.test_labels,
    )


def as_images(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) as float32 (N, 1, 28, 28) in [0, 1], the layout of image models."""
    return to_float32(images, flatten=False).reshape(len(images), *IMAGE_SHAPE)


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

    `run_dir` must be new or empty: a folder holding a run (continue it with `resume_run`), other files, or
    a file is a `RunError`, as is a folder another process holds. `dataset` (a loaded `FashionMNIST`) skips
    loading the data; `on_step(epoch, step)` is passed on to `fit`.
    """
    model_entry(config.model).require(config.model)  # before anything is written
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir()
    created = _make_folder(run_dir)
    run = None
    try:
        with _locked(run_dir):
            _check_new_or_empty(run_dir)
            run = _Run(run_dir, config, None, dataset, log, progress, on_step)
            return run.execute()
    finally:
        # A run that never saved a checkpoint has nothing worth keeping: the folder is left as it was found.
        if run is not None and run.saved_epoch is None:
            run.remove_written_files()
        if created and (run is None or run.saved_epoch is None):
            with contextlib.suppress(OSError):
                run_dir.rmdir()


def resume_run(
    run_dir: str | os.PathLike[str],
    *,
    data_dir: str | None = None,
    download: bool | None = None,
    threads: int | None = None,
    dataset=None,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
    on_step=None,
) -> RunOutcome:
    """Continue the run in `run_dir` from its `last.npz`, exactly as if it had never stopped.

    The settings come from the checkpoint; only where the data lives (`data_dir`, `download`) and the
    threads the kernels run on (`threads`) may change.
    A run that had already finished is not trained further: its results and pictures are written again.
    Temporary files left by a killed process are removed first.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        problem = "it is not a folder" if run_dir.exists() else "no such folder"
        raise RunError(f"cannot resume {run_dir}: {problem}")
    with _locked(run_dir):
        stale = remove_stale_temporaries(run_dir, RUN_FILES)
        if stale:
            log(f"removed {len(stale)} temporary file(s) left by an earlier, killed process: "
                + ", ".join(p.name for p in stale))  # fmt: skip
        if not (run_dir / LAST_CHECKPOINT).exists():
            raise RunError(f"cannot resume {run_dir}: it has no {LAST_CHECKPOINT}")
        changes = {"data_dir": data_dir, "download": download, "threads": threads}
        changes = {key: value for key, value in changes.items() if value is not None}
        return _Run(run_dir, None, changes, dataset, log, progress, on_step).execute()


def _make_folder(run_dir: Path) -> bool:
    """Create `run_dir` (and its parents) if needed; True if it was created here."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a folder: a run needs a folder of its own")
    try:
        run_dir.mkdir(parents=True)
        return True
    except FileExistsError:
        return False
    except OSError as error:
        raise RunError(f"cannot create the run folder: {describe_os_error(error)}") from None


@contextlib.contextmanager
def _locked(run_dir: Path):
    """Hold the run folder's lock: one process at a time trains in a folder."""
    try:
        with folder_lock(run_dir):
            yield
    except FolderLockedError as error:
        raise RunError(f"{error}, which is training there; wait for it to end (or stop it) first") from None
    except OSError as error:  # only the lock file itself: the run turns its own OSErrors into RunErrors
        if error.filename != str(run_dir / LOCK_FILE):
            raise
        raise RunError(f"cannot use {run_dir}: {describe_os_error(error)}") from None


def _check_new_or_empty(run_dir: Path) -> None:
    if (run_dir / LAST_CHECKPOINT).exists():
        raise RunError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir}, or pick another --out"
        )
    entries = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)
    if entries:
        shown = ", ".join(entries[:5]) + (f", ... ({len(entries)} in all)" if len(entries) > 5 else "")
        raise RunError(
            f"{run_dir} is not empty (it holds {shown}); a new run needs a new or empty folder: "
            "pick another --out"
        )


class _Run:
    """One session of a run: a new one (`config` given), or a resumed one (`config` None: it comes from
    `last.npz`, with `changes` to where the data lives).

    `phase` says where the session is ("loading", "training", "results"), so that Ctrl-C and errors of the
    file system can say what was kept.
    """

    def __init__(self, run_dir: Path, config, changes, dataset, log, progress, on_step):
        self.run_dir, self.config, self.changes, self.dataset = run_dir, config, changes, dataset
        self.log, self.progress, self.on_step = log, progress, on_step
        self.started = time.perf_counter()
        self.previous_seconds = 0.0  # wall time of earlier sessions of this run
        self.saved_epoch = None  # the epoch last.npz holds, once this session knows it
        self.phase = "loading"

    def path(self, name: str) -> Path:
        return self.run_dir / name

    # ----- the session
    def execute(self) -> RunOutcome:
        try:
            return self._execute()
        except KeyboardInterrupt:
            return self._interrupted()
        except OSError as error:  # a full disk, a folder made read-only, ...
            raise RunError(self._os_error_message(error)) from None

    def _execute(self) -> RunOutcome:
        self._set_up()
        threads = kernel_threads(self.config)
        if threads == 1 and self.config.threads is None and model_entry(self.config.model).own_threads:
            self.log("note: the kernels run on one thread: threadpoolctl is not installed "
                     "(pip install tensorgrad[train] installs it)")  # fmt: skip
        with parallel.num_threads(threads):
            return self._train_and_finish()

    def _train_and_finish(self) -> RunOutcome:
        self.skipped_pictures = _note_missing_picture_libraries(self.log)
        if GRAPH_FILE not in self.skipped_pictures and not self.path(GRAPH_FILE).exists():
            self._draw_graph()
        if self.state.finished:
            self.log(f"{self.run_dir} had already finished training; writing its results again")
            self.state.restore_best(self.evaluated)
            return self._finish()
        if self.state.epoch:
            self.log(f"resuming {self.run_dir} after epoch {self.state.epoch}")
        self.phase = "training"
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
                    loss_fn=self.loss_fn,
                    ema=self.ema,
                )
        except NonFiniteLossError as error:
            return self._stop_non_finite(error)
        return self._finish()

    def _set_up(self) -> None:
        """Read the checkpoint (when resuming) and the data; build the model, optimizer and loader."""
        checkpoint = None
        if self.config is None:
            checkpoint = ckpt.load_checkpoint(self.path(LAST_CHECKPOINT))
            config = TrainConfig.from_dict(checkpoint.config)  # load_checkpoint has checked it
            self.config = dataclasses.replace(config, **self.changes)
            model_entry(config.model).require(config.model)  # before the data loads
        config = self.config
        generators = seed_generators(config.seed)
        self.augment_rng = generators["augment"]
        if self.dataset is None:
            self.dataset = load_dataset(config.data_dir, download=config.download)
            self.log(describe_source(self.dataset))
        self.data = prepare_data(config, generators["split"], self.dataset)
        # A resumed run restores what the model fitted to its training images, with the rest of its state.
        fit_to = self.data.train_x if checkpoint is None else None
        self.model = build_model(config, generators["model"], train_images=fit_to)
        self.optimizer = build_optimizer(config, self.model.parameters())
        # The model that is evaluated, kept as the best and tested: the average of the weights, if kept.
        self.ema = ModelEMA(self.model, config.ema_decay) if config.ema_decay is not None else None
        self.evaluated = self.model if self.ema is None else self.ema.module
        self.loss_fn = build_loss(config)
        augmentation = build_augmentation(config)
        self.loader = DataLoader(
            self.data.train_x,
            self.data.train_y,
            config.batch_size,
            shuffle=True,
            rng=generators["loader"],
            transform=None if augmentation is None else (lambda batch: augmentation(batch, self.augment_rng)),
        )
        if checkpoint is None:
            self.state = TrainState(EarlyStopping(config.monitor, config.patience))
            write_json_atomically(self.path(CONFIG_FILE), config.to_dict())
            write_bytes_atomically(self.path(METRICS_FILE), b"")
            # A checkpoint of epoch 0, so that even a run stopped in its first epoch can be resumed.
            self._save_checkpoints(improved=False)
        else:
            self._restore(checkpoint)

    def _interrupted(self) -> RunOutcome:
        """What Ctrl-C leaves, said in the words of the phase it came in."""
        resume = f"Resume with: tensorgrad-train --resume {self.run_dir}"
        last = self.path(LAST_CHECKPOINT)
        if self.saved_epoch is None and self.changes is None:
            self.log(
                "\nInterrupted while loading, before training began: nothing was kept, nothing to resume. "
                "Run the same command again to start over."
            )
        elif self.saved_epoch is None:
            self.log(f"\nInterrupted while loading; {self.run_dir} is unchanged.\n{resume}")
        elif self.phase == "results":
            self.log(
                f"\nInterrupted while writing the results; training is complete ({last} holds epoch "
                f"{self.saved_epoch}).\nWrite the results with: tensorgrad-train --resume {self.run_dir}"
            )
        else:
            self.log(
                f"\nInterrupted in epoch {self.state.epoch + 1}. The last checkpoint, {last}, "
                f"holds the end of epoch {self.saved_epoch}.\n{resume}"
            )
        return RunOutcome(self.run_dir, "interrupted", EXIT_INTERRUPTED)

    def remove_written_files(self) -> None:
        """Undo a new run that never saved a checkpoint: its folder was new or empty, so all in it is ours."""
        for name in RUN_FILES:
            with contextlib.suppress(OSError):
                self.path(name).unlink()
        with contextlib.suppress(OSError):
            remove_stale_temporaries(self.run_dir, RUN_FILES)

    def _os_error_message(self, error: OSError) -> str:
        problem = describe_os_error(error)
        if self.saved_epoch is None:
            return f"{problem}; nothing was trained"
        kept = f"{self.path(LAST_CHECKPOINT)} holds epoch {self.saved_epoch}"
        if self.phase == "results":
            return f"{problem} (while writing the results; training is complete and {kept})"
        return f"{problem}; {kept}: once this is fixed, resume with --resume {self.run_dir}"

    def _end_epoch(self, state: TrainState, improved: bool) -> None:
        """After each epoch: checkpoints first, then the metrics line (a resume rewrites the lines it lacks)."""
        self._save_checkpoints(improved)
        self.metrics_file.write(json.dumps(state.history[-1]) + "\n")
        self.metrics_file.flush()

    def _stop_non_finite(self, error: NonFiniteLossError) -> RunOutcome:
        best = self.state.early_stopping.best_epoch
        remedies = ["a lower --lr"]
        if self.config.clip_grad_norm is None:
            remedies.append("--clip-grad-norm")
        if self.config.on_nan != "skip":
            remedies.append("--on-nan skip to skip such steps")
        self.log(
            f"\nStopped: {error}. No update was made with it, and the checkpoints are unchanged "
            f"({self.path(LAST_CHECKPOINT)} holds epoch {self.saved_epoch}"
            + (f", {self.path(BEST_CHECKPOINT)} the best epoch, {best})." if best else ").")
            + f"\nTry {', or '.join(remedies)}."
        )
        if not self.state.restore_best(self.evaluated):
            return RunOutcome(self.run_dir, "non-finite", EXIT_FAILED)
        self.state.stop_reason = f"non-finite: {error}"
        outcome = self._finish()
        return RunOutcome(self.run_dir, "non-finite", EXIT_FAILED, outcome.results)

    # ----- checkpoints
    def _checkpoint(self, last: bool) -> ckpt.Checkpoint:
        """`last.npz` (`last`): everything to resume from; `best.npz`: the evaluated model as `model/`."""
        progress = self.state.progress()
        progress["wall_seconds"] = self.wall_seconds()
        if self.ema is not None:
            progress["ema_updates"] = self.ema.updates if self.ema.warmup else None
        return ckpt.Checkpoint(
            config=self.config.to_dict(),
            model_state=(self.model if last else self.evaluated).state_dict(),
            epoch=self.state.epoch,
            optimizer_state=state_to_arrays(self.optimizer.state_dict()),
            rng_states={
                name: ckpt.generator_state(generator) for name, generator in self._generators().items()
            },
            best_metric=self.state.early_stopping.best,
            progress=progress,
            best_model_state=self.state.best_weights if last else None,
            ema_state=self.ema.state_dict() if last and self.ema is not None else None,
        )

    def _generators(self) -> dict:
        """The generators a checkpoint saves: the batch order, the model's (dropout), the augmentation's."""
        return run_generators(self.loader.rng, self.model, self.augment_rng)

    def _save_checkpoints(self, improved: bool) -> None:
        if improved:
            ckpt.save_checkpoint(self.path(BEST_CHECKPOINT), self._checkpoint(last=False))
        ckpt.save_checkpoint(self.path(LAST_CHECKPOINT), self._checkpoint(last=True))
        self.saved_epoch = self.state.epoch

    def _restore(self, checkpoint: ckpt.Checkpoint) -> None:
        path = self.path(LAST_CHECKPOINT)
        self.state, self.previous_seconds = restore_session(
            checkpoint, path, self.config, self.model, self.optimizer, self._generators(), self.ema
        )
        self.saved_epoch = checkpoint.epoch
        # Lines written after this checkpoint (an interruption between the two writes) are dropped.
        lines = "".join(json.dumps(row) + "\n" for row in self.state.history)
        write_bytes_atomically(self.path(METRICS_FILE), lines.encode("utf-8"))

    # ----- the end of a run
    def wall_seconds(self) -> float:
        return self.previous_seconds + time.perf_counter() - self.started

    def _finish(self) -> RunOutcome:
        """Evaluate the best weights (already in the model) on the test set; write results and pictures."""
        self.phase = "results"
        test = evaluate(self.evaluated, self.data.test_x, self.data.test_y)
        confusion = confusion_matrix(test.predictions, self.data.test_y, NUM_CLASSES)
        class_accuracy = per_class_accuracy(confusion)
        state = self.state
        results = {
            "test_accuracy": test.accuracy,
            "test_loss": test.loss,
            "best_epoch": state.early_stopping.best_epoch,
            "best_" + state.early_stopping.metric: state.early_stopping.best,
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
        if state.history and CURVES_FILE not in self.skipped_pictures:
            plot_curves(state.history, state.early_stopping.best_epoch or None, self.path(CURVES_FILE))
        if CONFUSION_FILE not in self.skipped_pictures:
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
            objective = training_loss(self.model, self.loss_fn, self.config.l2)
            save_training_graph(self.model, x, y, self.path(GRAPH_FILE), objective)
        except graphviz.ExecutableNotFound:
            self.log(f"warning: Graphviz's `dot` program was not found, so {GRAPH_FILE} was not drawn")


def _note_missing_picture_libraries(log) -> list[str]:
    """The pictures that cannot be drawn for lack of a library, said in one line to `log`."""
    missing = [library for library in dict.fromkeys(PICTURE_LIBRARIES.values()) if not is_available(library)]
    skipped = [name for name, library in PICTURE_LIBRARIES.items() if library in missing]
    if skipped:
        log(
            f"note: {_and(skipped)} will not be drawn: {_and(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed (pip install tensorgrad[train] installs them)"
        )
    return skipped


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def run_generators(loader_rng, model, augment_rng) -> dict:
    """The generators of a run, by checkpoint name: "loader", "model" (if the model keeps one, for dropout),
    "augment"."""
    generators = {"loader": loader_rng}
    model_rng = getattr(model, "rng", None)
    if isinstance(model_rng, np.random.Generator):
        generators["model"] = model_rng
    generators["augment"] = augment_rng
    return generators


def restore_ema_updates(ema: ModelEMA, progress: dict, path) -> None:
    """Set `ema.updates` from a checkpoint's progress, where its warm-up stands. A checkpoint without the
    count (its average was made before the warm-up existed, or without one) goes on without a warm-up."""
    updates = progress.get("ema_updates")
    if updates is None:
        ema.warmup = False
        return
    if isinstance(updates, bool) or not isinstance(updates, int) or not 0 <= updates < 1 << 62:
        raise ckpt.CheckpointError(path, f"its ema_updates must be a count of updates, not {updates!r}")
    ema.updates = updates


def restore_session(
    checkpoint: ckpt.Checkpoint, path, config: TrainConfig, model, optimizer, generators: dict, ema=None
):
    """Put a checkpoint's weights (and averaged weights, with `ema`), optimizer state and generator states
    (`generators`: {name: Generator}) into a freshly built run.

    Returns `(state, previous_wall_seconds)`; anything that does not fit is a `CheckpointError` naming `path`.
    """
    ckpt.load_model_state(model, checkpoint.model_state, path)
    ckpt.load_optimizer_state(optimizer, checkpoint.optimizer_state, path)
    if ema is not None:
        if checkpoint.ema_state is None:
            raise ckpt.CheckpointError(path, "missing the averaged weights (ema/...) of its ema_decay")
        ckpt.load_model_state(ema.module, checkpoint.ema_state, path)
        restore_ema_updates(ema, checkpoint.progress, path)
    for name, generator in generators.items():
        if name not in checkpoint.rng_states:
            if name == "augment" and not config.augment:
                continue  # unused without augmentation (and absent from checkpoints that predate it)
            raise ckpt.CheckpointError(path, f"missing key rng/{name}")
        ckpt.restore_generator(generator, checkpoint.rng_states[name], path)
    try:
        state = TrainState.from_progress(
            config, checkpoint.epoch, checkpoint.progress, checkpoint.best_model_state
        )
        previous_seconds = float(checkpoint.progress.get("wall_seconds", 0.0))
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as error:
        raise ckpt.CheckpointError(path, f"its training progress is incomplete: {error!r}") from None
    if state.early_stopping.best_epoch and checkpoint.best_model_state is None:
        raise ckpt.CheckpointError(path, "missing the best weights (best_model/...)")
    return state, previous_seconds
