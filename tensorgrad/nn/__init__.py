"""Neural-network layers (PyTorch's `torch.nn`)."""

from . import init, utils
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv2d, MaxPool2d
from .layers import Dropout, Dropout2d, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d
from .parameter import Parameter

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Dropout2d",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "init",
    "utils",
]
