"""Models written as tensor expressions on tensorgrad."""

from .cnn import CNN
from .mlp import MLP

__all__ = ["CNN", "MLP"]
