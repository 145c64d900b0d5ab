"""Training: the loop, checkpoints, metrics, plots, and whole runs with their run folder.

>>> from tensorgrad.training import TrainConfig, train_run
>>> outcome = train_run(TrainConfig(epochs=5, seed=1), "runs/try")   # writes runs/try/...
>>> outcome.results["test_accuracy"]
"""

from .builders import (
    build_augmentation,
    build_loss,
    build_model,
    build_optimizer,
    build_scheduler,
    seed_generators,
)
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import DEFAULT_LR, PRESETS, CNNOptions, TrainConfig
from .ema import ModelEMA
from .inference import ImageError, evaluate_checkpoint, load_image, load_trained_model, predict, read_image
from .loop import (
    EarlyStopping,
    Evaluation,
    NonFiniteLossError,
    TrainState,
    default_loss,
    evaluate,
    fit,
    l2_weights,
    model_input,
    training_loss,
)
from .metrics import accuracy, confusion_matrix, per_class_accuracy
from .models import MODELS, ModelEntry, ModelUnavailableError, config_for, register_model
from .run import RunError, RunOutcome, resume_run, train_run

__all__ = [
    "DEFAULT_LR",
    "MODELS",
    "PRESETS",
    "CNNOptions",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "Evaluation",
    "ImageError",
    "ModelEMA",
    "ModelEntry",
    "ModelUnavailableError",
    "NonFiniteLossError",
    "RunError",
    "RunOutcome",
    "TrainConfig",
    "TrainState",
    "accuracy",
    "build_augmentation",
    "build_loss",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "config_for",
    "confusion_matrix",
    "default_loss",
    "evaluate",
    "evaluate_checkpoint",
    "fit",
    "l2_weights",
    "load_checkpoint",
    "load_image",
    "load_trained_model",
    "model_input",
    "per_class_accuracy",
    "predict",
    "read_image",
    "register_model",
    "resume_run",
    "save_checkpoint",
    "seed_generators",
    "train_run",
    "training_loss",
]
