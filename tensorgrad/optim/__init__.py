"""Optimizers (PyTorch's `torch.optim`), plus the paper's form of momentum."""

from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD, Momentum

__all__ = ["SGD", "Adam", "Momentum", "Optimizer"]
