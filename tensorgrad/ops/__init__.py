"""Every recorded operation, each a small class with its forward beside its backward.

Importing a module of this package registers its ops (see `registry`): the functions `tg.<name>` and
`tensorgrad.functional.<name>` and the Tensor methods come from those registrations.
"""

from . import (  # noqa: F401  (registers the ops)
    activations,
    batchnorm,
    convolution,
    einsum,
    elementwise,
    indexing,
    joining,
    linalg,
    losses,
    nll,
    normalization,
    padding,
    pointwise,
    pointwise_losses,
    pooling,
    reductions,
    shape,
    softmax,
    statistics,
)
from .base import Op
from .elementwise import Add, Cast, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sub, Tanh, Where
from .linalg import Linear, MatMul
from .losses import REDUCTIONS, CrossEntropy, L2Penalty
from .reductions import Max, Mean, Sum
from .registry import FUNCTIONS, OPS, register
from .shape import BroadcastTo, GetItem, IndexAdd, Permute, Reshape, SumTo
from .softmax import LogSoftmax, Softmax

__all__ = [
    "FUNCTIONS",
    "OPS",
    "REDUCTIONS",
    "Add",
    "BroadcastTo",
    "Cast",
    "CrossEntropy",
    "Div",
    "Exp",
    "GetItem",
    "IndexAdd",
    "L2Penalty",
    "Linear",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "Mean",
    "Mul",
    "Neg",
    "Op",
    "Permute",
    "Pow",
    "ReLU",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Sub",
    "Sum",
    "SumTo",
    "Tanh",
    "Where",
    "register",
]
