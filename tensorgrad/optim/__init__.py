"""Optimizers (PyTorch's `torch.optim`), plus the paper's form of momentum, and learning-rate schedules."""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .arrays import state_from_arrays, state_to_arrays
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD, Momentum

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
    "state_from_arrays",
    "state_to_arrays",
]
