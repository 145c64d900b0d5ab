"""Training: the loop, checkpoints, metrics, plots, and whole runs with their run folder.

>>> from tensorgrad.training import TrainConfig, train_run
>>> outcome = train_run(TrainConfig(epochs=5, seed=1), "runs/try")   # writes runs/try/...
>>> outcome.results["test_accuracy"]
"""

from .builders import build_model, build_optimizer, build_scheduler, seed_generators
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import DEFAULT_LR, PRESETS, TrainConfig
from .inference import ImageError, evaluate_checkpoint, load_image, load_trained_model, predict, read_image
from .loop import EarlyStopping, Evaluation, NonFiniteLossError, TrainState, evaluate, fit
from .metrics import accuracy, confusion_matrix, per_class_accuracy
from .run import RunError, RunOutcome, resume_run, train_run

__all__ = [
    "DEFAULT_LR",
    "PRESETS",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "Evaluation",
    "ImageError",
    "NonFiniteLossError",
    "RunError",
    "RunOutcome",
    "TrainConfig",
    "TrainState",
    "accuracy",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "confusion_matrix",
    "evaluate",
    "evaluate_checkpoint",
    "fit",
    "load_checkpoint",
    "load_image",
    "load_trained_model",
    "per_class_accuracy",
    "predict",
    "read_image",
    "resume_run",
    "save_checkpoint",
    "seed_generators",
    "train_run",
]
