"""Neural-network layers (PyTorch's `torch.nn`)."""

from . import init, utils
from .containers import ModuleDict, ModuleList
from .layers import Dropout, Flatten, Identity, Linear, LogSoftmax, ReLU, Sequential, Sigmoid, Softmax, Tanh
from .loss import CrossEntropyLoss
from .module import Module
from .parameter import Parameter

__all__ = [
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "init",
    "utils",
]
