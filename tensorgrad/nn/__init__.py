"""Neural-network layers (PyTorch's `torch.nn`)."""

from . import init, utils
from .layers import Dropout, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module
from .parameter import Parameter

__all__ = [
    "Dropout",
    "Flatten",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "init",
    "utils",
]
